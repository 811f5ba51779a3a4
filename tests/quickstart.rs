//! The `quickstart` example, run as a process, as a newcomer sees it: the first screen says
//! where the MCP server is and how to connect MCP Inspector, Claude Code and VS Code; tokens
//! are printed once, after that; a busy port says which port, which variable and what to do.
//!
//! `cargo test` builds the example first; when only this test is selected, run
//! `cargo build --example quickstart` before it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/examples.rs"]
mod examples;

/// Lines of an 80x24 terminal left for the instructions under the development authorization
/// server's start warning (on stderr, two rows at 80 columns).
const FIRST_SCREEN: usize = 22;

/// The quickstart with `env`, stdout and stderr piped.
fn quickstart(env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(examples::example_binary("quickstart"));
    command
        .env("PORT", "0")
        .env("DEV_AS_PORT", "0")
        .env("DEV_AS_AUTO_APPROVE", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("the quickstart starts")
}

/// Everything the quickstart prints before it serves (its last line is the final `curl`).
fn instructions() -> Vec<String> {
    let mut child = quickstart(&[]);
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines: Vec<String> = Vec::new();
    // The last command printed is the admin call with $ADMIN_TOKEN; its `-d` body ends it.
    let mut admin_call = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines_rx.recv_timeout(left) else {
            child.kill().ok();
            panic!("the quickstart printed only: {lines:#?}");
        };
        admin_call |= line.contains("Bearer $ADMIN_TOKEN");
        let done = admin_call && line.trim_start().starts_with("-d ");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().ok();
    child.wait().ok();
    lines
}

#[test]
fn the_first_screen_says_where_the_server_is_and_how_to_connect_every_client() {
    let lines = instructions();
    let endpoint = lines
        .iter()
        .find_map(|l| l.strip_prefix("MCP endpoint (resource)"))
        .expect("an endpoint line")
        .trim()
        .to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:") && endpoint.ends_with("/mcp"));

    let screen = &lines[..FIRST_SCREEN];
    let text = screen.join("\n");
    for wanted in [
        "DEVELOPMENT ONLY",
        &format!("MCP endpoint (resource)      {endpoint}"),
        "Authorization server         http://127.0.0.1:",
        // MCP Inspector 2.x, and the Node version it needs.
        "npx @modelcontextprotocol/inspector",
        "Node >= 22.19",
        &format!("Add Servers, Streamable HTTP, URL {endpoint}"),
        // Claude Code.
        &format!("claude mcp add --transport http quickstart {endpoint}"),
        "/mcp in Claude Code",
        // VS Code.
        ".vscode/mcp.json",
        &format!("\"url\": \"{endpoint}\""),
        // Step-up: run the tool again after consenting.
        "insufficient_scope",
        "run the\ntool again",
    ] {
        assert!(
            text.contains(wanted),
            "{wanted:?} not in the first screen:\n{text}"
        );
    }
    for line in screen {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
        assert!(
            !line.contains("eyJ"),
            "a token on the first screen: {line:?}"
        );
    }
}

#[test]
fn each_token_is_printed_once() {
    let lines = instructions();
    let tokens: Vec<&str> = lines
        .iter()
        .flat_map(|l| l.split(['\'', ' ', '"']))
        .filter(|word| word.starts_with("eyJ") && word.matches('.').count() == 2)
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:#?}");
    assert_ne!(tokens[0], tokens[1]);
    assert!(lines.iter().any(|l| l.starts_with("export TOKEN='eyJ")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("export ADMIN_TOKEN='eyJ"))
    );
}

/// Runs the quickstart with `variable` set to a port something else listens on: it must exit
/// at once, naming the port, the variable and the fix, with no debug dump of the error.
fn busy(variable: &str) {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let mut child = quickstart(&[(variable, &port)]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the quickstart kept running on a busy {variable}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("port {port} is already in use ({variable})")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{variable}=<port> cargo run --example quickstart")),
        "{stderr}"
    );
    assert!(!stderr.contains("Os {"), "a debug dump: {stderr}");
    drop(holder);
}

#[test]
fn a_busy_mcp_port_names_the_port_the_variable_and_the_fix() {
    busy("PORT");
}

#[test]
fn a_busy_authorization_server_port_names_the_port_the_variable_and_the_fix() {
    busy("DEV_AS_PORT");
}
