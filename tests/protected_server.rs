//! The `protected_server` example, run as a process: its command line, its start-up contract
//! (`listening on …` then `metadata: …` on stdout) and its behaviour against a loopback
//! authorization server ([`TestIssuer::start`]).
//!
//! `cargo test` builds the examples before it runs integration tests; the binary is found next
//! to this test's own (`target/<profile>/examples/protected_server`). When only this test is
//! selected (`cargo test --test protected_server`), build the example first:
//! `cargo build --example protected_server --all-features`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_server_auth::challenge::ParsedChallenge;
use mcp_server_auth_dev::testing::TestIssuer;
use serde_json::{Value, json};

/// How long the server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a process refusing its flags may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
const ACCEPT: &str = "application/json, text/event-stream";

#[path = "common/examples.rs"]
mod examples;

/// The `protected_server` binary (see [`examples::example_binary`]).
fn example_binary() -> PathBuf {
    examples::example_binary("protected_server")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// A running `protected_server`, killed when dropped.
struct Server {
    child: Child,
    /// The MCP endpoint, from the `listening on` line.
    url: String,
    /// The metadata URL, from the line after it.
    metadata_url: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- protected_server stderr ---\n{}", self.stderr());
        }
    }
}

impl Server {
    /// Starts the example with `--port 0 --allow-http-loopback` and `args`, and waits for its
    /// `listening on` line.
    async fn start(args: &[&str]) -> Server {
        let mut all = vec!["--port", "0", "--allow-http-loopback"];
        all.extend_from_slice(args);
        match Server::launch(&all).await {
            Ok(server) => server,
            Err(stderr) => panic!("protected_server exited before listening; stderr:\n{stderr}"),
        }
    }

    /// Starts the example with exactly `args` and waits for its `listening on` line; `Err`
    /// with its stderr when it exits without printing it.
    async fn launch(args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(example_binary())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start protected_server");

        // Readers on threads, so that a silent child cannot block the test's runtime (which
        // also runs the authorization server the child is asking for keys).
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buffer) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });

        let mut server = Server {
            child,
            url: String::new(),
            metadata_url: String::new(),
            stderr,
        };
        let first_two = async {
            let first = lines.recv().await;
            let second = lines.recv().await;
            (first, second)
        };
        let Ok((first, second)) = tokio::time::timeout(START_TIMEOUT, first_two).await else {
            panic!(
                "no `listening on` line within {START_TIMEOUT:?}; stderr:\n{}",
                server.stderr()
            );
        };
        if first.is_none() {
            // Standard output closed: the process is exiting. Collect what it said.
            let deadline = tokio::time::Instant::now() + EXIT_TIMEOUT;
            while server.child.try_wait().unwrap().is_none()
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while !server.stderr().contains('\n') && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            return Err(server.stderr());
        }
        let Some(url) = first
            .as_deref()
            .and_then(|line| line.strip_prefix("listening on "))
        else {
            panic!(
                "expected `listening on <url>`, got {first:?}; stderr:\n{}",
                server.stderr()
            );
        };
        server.url = url.to_owned();
        let Some(metadata_url) = second
            .as_deref()
            .and_then(|line| line.strip_prefix("metadata: "))
        else {
            panic!("expected `metadata: <url>`, got {second:?}");
        };
        server.metadata_url = metadata_url.to_owned();
        assert!(
            server.url.starts_with("http://127.0.0.1:") && server.url.ends_with("/mcp"),
            "{}",
            server.url
        );
        Ok(server)
    }

    /// The resource identifier: by default, the URL it listens on.
    fn resource(&self) -> &str {
        &self.url
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle` (it is read on another thread).
    async fn wait_for_stderr(&self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stderr = self.stderr();
            if stderr.contains(needle) {
                return stderr;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "stderr never contained {needle:?}:\n{stderr}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs a JSON-RPC message to the MCP endpoint as a Streamable HTTP client does.
    async fn post(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut request = client()
            .post(&self.url)
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `initialize`, which must succeed.
    async fn initialize(&self, token: &str) -> Value {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "protected-server-test", "version": "0"},
            },
        });
        let response = self.post(Some(token), &body).await;
        assert_eq!(response.status(), 200, "initialize");
        let message: Value = response.json().await.unwrap();
        assert!(message["error"].is_null(), "initialize: {message}");
        message["result"].clone()
    }

    /// `tools/call`, whatever the answer.
    async fn call_tool_response(
        &self,
        token: &str,
        name: &str,
        arguments: Value,
    ) -> reqwest::Response {
        let body = json!({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        });
        self.post(Some(token), &body).await
    }

    /// `tools/call`, answered with 200 and a result (which may be a tool error): the result.
    async fn call_tool(&self, token: &str, name: &str, arguments: Value) -> Value {
        let response = self.call_tool_response(token, name, arguments).await;
        assert_eq!(response.status(), 200, "tools/call {name}");
        let message: Value = response.json().await.unwrap();
        assert!(
            message["result"].is_object(),
            "tools/call {name}: {message}"
        );
        message["result"].clone()
    }

    /// `tools/call` of a tool the token lacks `tool_scope` for: refused by the layer with an
    /// HTTP 403 step-up challenge, not an HTTP 200 carrying a tool or JSON-RPC error (clients
    /// cannot step up from those). Returns the challenge's `scope`.
    async fn call_tool_refused(&self, token: &str, name: &str, tool_scope: &str) -> String {
        let response = self.call_tool_response(token, name, json!({})).await;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        assert_ne!(
            status, 200,
            "tools/call {name}: an HTTP 200 carrying an error: {body}"
        );
        assert_eq!(status, 403, "tools/call {name}: {body}");

        // Nothing in the body looks like an answer from the MCP server: the tool never ran.
        let message: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        assert!(message.get("result").is_none(), "tools/call {name}: {body}");
        assert!(
            message.get("jsonrpc").is_none(),
            "tools/call {name}: {body}"
        );

        let challenges: Vec<_> = headers.get_all("www-authenticate").iter().collect();
        assert_eq!(challenges.len(), 1, "tools/call {name}: {challenges:?}");
        let challenge = ParsedChallenge::parse(challenges[0].to_str().unwrap()).unwrap();
        assert!(
            challenge.scheme().eq_ignore_ascii_case("bearer"),
            "{challenge:?}"
        );
        assert_eq!(
            challenge.get("error"),
            Some("insufficient_scope"),
            "{challenge:?}"
        );
        assert_eq!(
            challenge.get("resource_metadata"),
            Some(self.metadata_url.as_str()),
            "{challenge:?}"
        );
        let scope = challenge.get("scope").unwrap_or_else(|| {
            panic!("tools/call {name}: no scope in {challenge:?}");
        });
        assert!(
            scope.split(' ').any(|s| s == tool_scope),
            "tools/call {name}: scope {scope:?} should name {tool_scope:?}"
        );
        scope.to_owned()
    }
}

/// The text of a tool result's first content block.
fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_else(|| {
        panic!("no text content in {result}");
    })
}

fn is_error(result: &Value) -> bool {
    result["isError"].as_bool().unwrap_or(false)
}

/// Runs the example with `args` and expects it to exit on its own.
/// Runs the binary with `args`, which it must refuse as a usage error: exit code 2, nothing on
/// standard output, standard error starting with `error: `. Returns standard error.
async fn usage_error(args: &[&str]) -> String {
    let (status, stdout, stderr) = run_to_exit(args).await;
    assert_eq!(
        status.code(),
        Some(2),
        "{args:?}: {status}; stderr:\n{stderr}"
    );
    assert!(stdout.is_empty(), "{args:?}: stdout {stdout:?}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    stderr
}

async fn run_to_exit(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(example_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start protected_server");
    let deadline = tokio::time::Instant::now() + EXIT_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{args:?} did not exit within {EXIT_TIMEOUT:?}; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status,
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A loopback URL nothing listens on.
fn closed_loopback_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn tools_call_whoami_returns_the_token_subject() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    server.wait_for_stderr("signing keys loaded").await;
    let token = issuer
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .subject("alice")
        .client_id("inspector")
        .sign();

    let init = server.initialize(&token).await;
    assert_eq!(
        init["serverInfo"]["name"], "mcp-server-auth-protected-server",
        "{init}"
    );
    assert!(init["capabilities"]["tools"].is_object(), "{init}");

    let result = server.call_tool(&token, "whoami", json!({})).await;
    assert!(!is_error(&result), "{result}");
    let identity: Value = serde_json::from_str(text_of(&result)).unwrap();
    assert_eq!(identity["sub"], "alice", "{identity}");
    assert_eq!(identity["client_id"], "inspector", "{identity}");
    assert_eq!(identity["iss"], issuer.issuer(), "{identity}");
    assert_eq!(identity["scopes"], json!(["mcp:tools"]), "{identity}");

    let result = server
        .call_tool(&token, "echo", json!({"text": "hello there"}))
        .await;
    assert!(!is_error(&result), "{result}");
    assert_eq!(text_of(&result), "hello there");

    // The token itself never reaches the logs.
    assert!(!server.stderr().contains(&token));
}

#[tokio::test]
async fn missing_token_gets_the_challenge_naming_the_metadata() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    let port = server
        .url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .unwrap();
    assert_eq!(
        server.metadata_url,
        format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")
    );

    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let response = server.post(None, &body).await;
    assert_eq!(response.status(), 401);
    let challenges: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .collect();
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    let challenge = ParsedChallenge::parse(challenges[0].to_str().unwrap()).unwrap();
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    assert_eq!(challenge.get("scope"), Some("mcp:tools"));
    assert_eq!(challenge.get("error"), None);

    // The metadata it points to names the resource, the issuer and every scope.
    let response = client().get(&server.metadata_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["resource"], server.resource());
    assert_eq!(document["authorization_servers"], json!([issuer.issuer()]));
    assert_eq!(
        document["scopes_supported"],
        json!(["mcp:tools", "mcp:admin"])
    );
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));
}

#[tokio::test]
async fn admin_reset_needs_the_tool_scope() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    let token = |scope: &str| {
        issuer
            .token()
            .audience(server.resource())
            .scope(scope)
            .sign()
    };

    // Without mcp:admin the layer refuses the call with a step-up challenge naming it (and, for
    // a 2025-06-18 request, the endpoint scope too: it is required and already granted).
    let scope = server
        .call_tool_refused(&token("mcp:tools"), "admin_reset", "mcp:admin")
        .await;
    assert!(scope.split(' ').any(|s| s == "mcp:tools"), "{scope}");

    // Other tools are not affected.
    let result = server
        .call_tool(&token("mcp:tools"), "echo", json!({"text": "still open"}))
        .await;
    assert_eq!(text_of(&result), "still open");

    let result = server
        .call_tool(&token("mcp:tools mcp:admin"), "admin_reset", json!({}))
        .await;
    assert!(!is_error(&result), "{result}");
    assert!(text_of(&result).contains("reset"), "{result}");

    // The tool scope does not replace the endpoint scope, which the layer checks.
    let response = server
        .post(
            Some(&token("mcp:admin")),
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )
        .await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn tool_scope_flags_replace_the_default() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(&[
        "--issuer",
        issuer.issuer(),
        "--scope",
        "mcp:use",
        "--tool-scope",
        "echo=mcp:echo",
        "--tool-scope",
        "whoami=mcp:who",
    ])
    .await;
    let token = |scope: &str| {
        issuer
            .token()
            .audience(server.resource())
            .scope(scope)
            .sign()
    };

    let document: Value = client()
        .get(&server.metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        document["scopes_supported"],
        json!(["mcp:use", "mcp:echo", "mcp:who"])
    );

    // `mcp:tools` is no longer the endpoint scope.
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let response = server.post(Some(&token("mcp:tools")), &body).await;
    assert_eq!(response.status(), 403);

    let plain = token("mcp:use");
    let result = server.call_tool(&plain, "admin_reset", json!({})).await;
    assert!(!is_error(&result), "admin_reset is open now: {result}");
    server.call_tool_refused(&plain, "echo", "mcp:echo").await;
    server.call_tool_refused(&plain, "whoami", "mcp:who").await;
    // Each tool needs its own scope, not any tool scope.
    server
        .call_tool_refused(&token("mcp:use mcp:who"), "echo", "mcp:echo")
        .await;

    let result = server
        .call_tool(&token("mcp:use mcp:echo"), "echo", json!({"text": "hi"}))
        .await;
    assert!(!is_error(&result), "{result}");
    assert_eq!(text_of(&result), "hi");
    let result = server
        .call_tool(&token("mcp:use mcp:who"), "whoami", json!({}))
        .await;
    assert!(!is_error(&result), "{result}");
}

#[tokio::test]
async fn resource_flag_sets_the_audience_the_metadata_and_the_accepted_host() {
    let issuer = TestIssuer::start().await;
    let resource = "https://mcp.example.com/mcp";
    let server = Server::start(&["--issuer", issuer.issuer(), "--resource", resource]).await;
    assert_eq!(
        server.metadata_url,
        "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
    );

    // As behind a TLS-terminating proxy: the public name in `Host`, the loopback socket.
    let call = |token: String| {
        let url = server.url.clone();
        async move {
            client()
                .post(url)
                .header("host", "mcp.example.com")
                .header("accept", ACCEPT)
                .header("content-type", "application/json")
                .header("mcp-protocol-version", "2025-06-18")
                .bearer_auth(token)
                .body(
                    json!({
                        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                        "params": {"name": "whoami", "arguments": {}},
                    })
                    .to_string(),
                )
                .send()
                .await
                .unwrap()
        }
    };
    let token = |audience: &str| {
        issuer
            .token()
            .audience(audience)
            .scope("mcp:tools")
            .subject("proxied")
            .sign()
    };

    let response = call(token(resource)).await;
    assert_eq!(response.status(), 200);
    let message: Value = response.json().await.unwrap();
    let identity: Value = serde_json::from_str(text_of(&message["result"])).unwrap();
    assert_eq!(identity["sub"], "proxied");

    // A token for the loopback URL is for another resource now.
    let response = call(token(&server.url)).await;
    assert_eq!(response.status(), 401);

    let path = "/.well-known/oauth-protected-resource/mcp";
    let document: Value = client()
        .get(server.url.replace("/mcp", path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["resource"], resource);
}

#[tokio::test]
async fn jwks_uri_flag_skips_discovery() {
    let issuer = TestIssuer::start().await;
    issuer.serve_discovery(false, false);

    // Without the flag the server cannot find the keys (discovery is off), so it warns.
    let discovering = Server::start(&["--issuer", issuer.issuer()]).await;
    let stderr = discovering.wait_for_stderr("warning:").await;
    assert!(stderr.contains(issuer.issuer()), "{stderr}");
    drop(discovering);
    assert_eq!(issuer.jwks_fetches(), 0);
    assert!(issuer.metadata_fetches() > 0, "it did try discovery");
    issuer.reset_counters();

    let jwks_uri = issuer.jwks_uri().to_string();
    let server = Server::start(&["--issuer", issuer.issuer(), "--jwks-uri", &jwks_uri]).await;
    let stderr = server.wait_for_stderr("signing keys loaded").await;
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(issuer.jwks_fetches() >= 1);
    assert_eq!(issuer.metadata_fetches(), 0, "no discovery with --jwks-uri");

    let token = issuer
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .subject("jwks-user")
        .sign();
    let result = server.call_tool(&token, "whoami", json!({})).await;
    let identity: Value = serde_json::from_str(text_of(&result)).unwrap();
    assert_eq!(identity["sub"], "jwks-user");
}

#[tokio::test]
async fn unreachable_issuer_at_startup_still_serves_and_answers_503() {
    let issuer_url = closed_loopback_url();
    let server = Server::start(&["--issuer", &issuer_url]).await;
    let stderr = server.wait_for_stderr("warning:").await;
    let warning = stderr
        .lines()
        .find(|line| line.starts_with("warning:"))
        .unwrap();
    assert!(warning.contains(&issuer_url), "{warning}");
    assert!(warning.contains("503"), "{warning}");

    // A well-formed token from that issuer: the server cannot check it yet.
    let offline = TestIssuer::new(issuer_url.clone());
    let token = offline
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .sign();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let response = server.post(Some(&token), &body).await;
    assert_eq!(response.status(), 503);
    let retry_after = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on 503")
        .to_str()
        .unwrap();
    assert!(
        retry_after.parse::<u64>().is_ok_and(|secs| secs > 0),
        "{retry_after}"
    );
    assert!(response.headers().get("www-authenticate").is_none());

    // What needs no keys still works: the metadata, and the challenge to a bare request.
    let response = client().get(&server.metadata_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = server.post(None, &body).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn bad_flags_exit_with_code_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--issuer", "https://a.example", "--frobnicate"],
            "--frobnicate",
        ),
        (
            &["--issuer", "https://a.example", "--port", "abc"],
            "--port",
        ),
        (
            &["--issuer", "https://a.example", "--port", "70000"],
            "--port",
        ),
        (&["--issuer"], "--issuer"),
        (&["--allow-http-loopback", "--port", "0"], "--issuer"),
        (
            &["--issuer", "https://a.example", "--tool-scope", "nonsense"],
            "--tool-scope",
        ),
        (
            &[
                "--issuer",
                "https://a.example",
                "--tool-scope",
                "nope=mcp:x",
            ],
            "nope",
        ),
        (
            &[
                "--issuer",
                "https://a.example",
                "--issuer",
                "https://b.example",
                "--jwks-uri",
                "https://a.example/jwks",
            ],
            "--jwks-uri",
        ),
        (
            &["--allow-http-loopback", "--issuer", "http://example.com"],
            "http://example.com",
        ),
        (&["--issuer", "http://example.com"], "--allow-http-loopback"),
        (
            &["--issuer", "https://a.example", "--bind", "localhost:80"],
            "--bind",
        ),
        (
            &[
                "--allow-http-loopback",
                "--issuer",
                "https://a.example",
                "--scope",
                "has space",
            ],
            "scope",
        ),
        (&["--issuer", "https://a.example", "stray"], "stray"),
    ];
    for (args, mentions) in cases {
        let stderr = usage_error(args).await;
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(mentions),
            "{args:?}: {first:?} should name {mentions:?}"
        );
        assert!(
            stderr.contains("--help"),
            "{args:?}: no usage hint in {stderr}"
        );
    }
}

#[tokio::test]
async fn help_prints_every_flag_and_exits_0() {
    let (status, stdout, stderr) = run_to_exit(&["--help"]).await;
    assert_eq!(status.code(), Some(0), "{stderr}");
    for flag in [
        "--port",
        "--bind",
        "--resource",
        "--issuer",
        "--jwks-uri",
        "--scope",
        "--tool-scope",
        "--allow-http-loopback",
        "--config",
        "--no-scope",
        "--anonymous-method",
        "--introspection-client-id",
        "--introspection-endpoint",
        "--introspection-allow-missing-audience",
        "--max-body-bytes",
        "--body-read-timeout-secs",
        "--max-buffered-bytes",
        "--token-cache-max-bytes",
        "--root-metadata",
        "--header-read-timeout-secs",
        "--shutdown-timeout-secs",
    ] {
        assert!(stdout.contains(flag), "{flag} missing from --help");
    }
}

#[tokio::test]
async fn the_new_flags_refuse_what_cannot_work() {
    let issuer = "https://a.example";
    let cases: &[(&[&str], &str)] = &[
        (
            &["--issuer", issuer, "--no-scope", "--scope", "x"],
            "--no-scope",
        ),
        (
            &["--issuer", issuer, "--body-read-timeout-secs", "0"],
            "--body-read-timeout-secs",
        ),
        (
            &["--issuer", issuer, "--max-buffered-bytes", "lots"],
            "--max-buffered-bytes",
        ),
        (&["--issuer", issuer, "--no-scope=yes"], "takes no value"),
        (
            &[
                "--issuer",
                issuer,
                "--introspection-endpoint",
                "https://a.example/i",
            ],
            "--introspection-client-id",
        ),
        (
            &[
                "--issuer",
                issuer,
                "--issuer",
                "https://b.example",
                "--introspection-client-id",
                "mcp",
            ],
            "exactly one --issuer",
        ),
    ];
    for (args, mentions) in cases {
        let stderr = usage_error(args).await;
        let first = stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(mentions),
            "{args:?}: {first:?} should name {mentions:?}"
        );
    }
    // Server options combine with --config; authorization flags do not.
    let file = ConfigFile::new(
        "toml",
        "resource = \"https://mcp.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n",
    );
    let stderr = usage_error(&["--config", file.path(), "--no-scope"]).await;
    assert!(stderr.contains("--no-scope"), "{stderr}");
}

/// `--no-scope` and `--anonymous-method`: `initialize` answers without a token, any other call
/// still needs one, but no particular scope.
#[tokio::test]
async fn anonymous_methods_and_no_endpoint_scope_from_flags() {
    let issuer = TestIssuer::start().await;
    let server = Server::start(&[
        "--issuer",
        issuer.issuer(),
        "--no-scope",
        "--anonymous-method",
        "initialize",
    ])
    .await;
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "protected-server-test", "version": "0"},
        },
    });
    assert_eq!(server.post(None, &initialize).await.status(), 200);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    assert_eq!(server.post(None, &list).await.status(), 401);
    let unscoped = issuer
        .token()
        .audience(server.resource())
        .scope("other")
        .sign();
    assert_eq!(server.post(Some(&unscoped), &list).await.status(), 200);
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_server_cleanly() {
    let issuer = TestIssuer::start().await;
    let mut server = Server::start(&["--issuer", issuer.issuer()]).await;
    let pid = server.child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running after SIGINT"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
}

// ---------------------------------------------------------------------------------------------
// --config <file>
// ---------------------------------------------------------------------------------------------

/// A configuration file in the temporary directory, under a name no other test uses; removed
/// when dropped.
struct ConfigFile {
    path: PathBuf,
}

impl ConfigFile {
    /// Writes `contents` to a new file whose name ends in `.{extension}`.
    fn new(extension: &str, contents: &str) -> ConfigFile {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "mcp-server-auth-protected-server-{}-{n}-{nanos}.{extension}",
            std::process::id()
        ));
        std::fs::write(&path, contents).unwrap();
        ConfigFile { path }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts the example with `--config` and the file `make(port)` describes, on a port the
/// configuration's resource names (`--port 0` would not match it). Should another process
/// take the port first, tries another one.
async fn start_with_config(
    extension: &str,
    make: impl Fn(u16) -> String,
) -> (Server, ConfigFile, u16) {
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port();
        let file = ConfigFile::new(extension, &make(port));
        let port_text = port.to_string();
        match Server::launch(&["--config", file.path(), "--port", &port_text]).await {
            Ok(server) => return (server, file, port),
            Err(stderr) if stderr.contains("cannot listen") => last = stderr,
            Err(stderr) => panic!("protected_server --config did not start; stderr:\n{stderr}"),
        }
    }
    panic!("no free port for protected_server --config; last stderr:\n{last}");
}

/// A configuration with two served issuers, the second with an audience alias, and the
/// endpoint and tool scopes.
fn server_config_toml(port: u16, primary: &str, secondary: &str) -> String {
    format!(
        r#"
resource = "http://127.0.0.1:{port}/mcp"
allow_http_loopback = true
scopes_supported = ["mcp:tools", "mcp:admin"]
required_scopes = ["mcp:tools"]
tool_scopes = {{ admin_reset = "mcp:admin" }}

[[issuers]]
issuer = "{primary}"

[[issuers]]
issuer = "{secondary}"
audiences = ["api://protected-server-alias"]
"#
    )
}

/// Checks a server started from `server_config_toml`.
async fn check_configured_server(server: &Server, port: u16, a: &TestIssuer, b: &TestIssuer) {
    assert_eq!(server.url, format!("http://127.0.0.1:{port}/mcp"));
    assert_eq!(
        server.metadata_url,
        format!("http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")
    );
    server.wait_for_stderr("signing keys loaded").await;

    let response = client().get(&server.metadata_url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["resource"], server.resource());
    assert_eq!(
        document["authorization_servers"],
        json!([a.issuer(), b.issuer()])
    );
    assert_eq!(
        document["scopes_supported"],
        json!(["mcp:tools", "mcp:admin"])
    );

    let token = a
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .subject("configured-user")
        .sign();
    let result = server.call_tool(&token, "whoami", json!({})).await;
    assert!(!is_error(&result), "{result}");
    let identity: Value = serde_json::from_str(text_of(&result)).unwrap();
    assert_eq!(identity["sub"], "configured-user", "{identity}");
    assert_eq!(identity["iss"], a.issuer(), "{identity}");

    // The second issuer's profile: its audience alias is accepted, for its tokens only.
    let aliased = |issuer: &TestIssuer| {
        issuer
            .token()
            .audience("api://protected-server-alias")
            .scope("mcp:tools")
            .sign()
    };
    let response = server
        .call_tool_response(&aliased(b), "whoami", json!({}))
        .await;
    assert_eq!(response.status(), 200, "alias for the second issuer");
    let response = server
        .call_tool_response(&aliased(a), "whoami", json!({}))
        .await;
    assert_eq!(
        response.status(),
        401,
        "the alias is not the first issuer's"
    );

    // Without the endpoint scope: 403.
    let unscoped = a
        .token()
        .audience(server.resource())
        .scope("mcp:other")
        .sign();
    let response = server
        .call_tool_response(&unscoped, "whoami", json!({}))
        .await;
    assert_eq!(response.status(), 403);
    let response = server
        .call_tool_response(
            &a.token().audience(server.resource()).sign(),
            "whoami",
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 403, "no scope at all");

    // The tool scope from the file.
    server
        .call_tool_refused(&token, "admin_reset", "mcp:admin")
        .await;
    let admin = a
        .token()
        .audience(server.resource())
        .scope("mcp:tools mcp:admin")
        .sign();
    let result = server.call_tool(&admin, "admin_reset", json!({})).await;
    assert!(!is_error(&result), "{result}");

    assert!(!server.stderr().contains(&token));
}

#[tokio::test]
async fn config_file_in_toml_replaces_the_flags() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let (server, _file, port) = start_with_config("toml", |port| {
        server_config_toml(port, a.issuer(), b.issuer())
    })
    .await;
    check_configured_server(&server, port, &a, &b).await;
}

#[tokio::test]
async fn config_file_in_json_works_too() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let (server, _file, port) = start_with_config("json", |port| {
        json!({
            "resource": format!("http://127.0.0.1:{port}/mcp"),
            "allow_http_loopback": true,
            "scopes_supported": ["mcp:tools", "mcp:admin"],
            "required_scopes": ["mcp:tools"],
            "tool_scopes": {"admin_reset": "mcp:admin"},
            "issuers": [
                {"issuer": a.issuer()},
                {"issuer": b.issuer(), "audiences": ["api://protected-server-alias"]},
            ],
        })
        .to_string()
    })
    .await;
    check_configured_server(&server, port, &a, &b).await;
}

/// A secret in the broken file below: it must not reach standard error.
const FILE_SECRET: &str = "file-secret-do-not-print-7731";

#[tokio::test]
async fn broken_config_file_exits_2_listing_every_problem() {
    let file = ConfigFile::new(
        "toml",
        &format!(
            r#"
resource = "http://mcp.example.com/mcp"
leeway_secs = "30"
scopes_supported = 5
required_scope = ["mcp:tools"]
token_cache = {{ capacity = 0 }}

[[issuers]]
issuer = "https://auth.example.com"
typ = "relaxed"
leeway_secs = 301
introspection = {{ client_id = "mcp-rs", client_auth = "client_secret_jwt", client_secret = "{FILE_SECRET}" }}

[[issuers]]
issuer = "https://opaque.example.com"
verify_jwts = false
"#
        ),
    );
    let (status, stdout, stderr) = run_to_exit(&["--config", file.path()]).await;
    assert_eq!(status.code(), Some(2), "{status}; stderr:\n{stderr}");
    assert!(stdout.is_empty(), "stdout {stdout:?}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(first.starts_with("error: "), "{stderr}");
    assert!(
        first.contains(file.path()),
        "{first:?} should name the file"
    );
    for field in [
        "resource",
        "leeway_secs",
        "scopes_supported",
        "required_scope",
        "token_cache.capacity",
        "issuers[0].typ",
        "issuers[0].leeway_secs",
        "issuers[0].introspection.client_auth",
        "issuers[1].verify_jwts",
    ] {
        assert!(
            stderr
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{field}: "))),
            "{field} not listed in:\n{stderr}"
        );
    }
    assert!(stderr.contains("9 configuration problems"), "{stderr}");
    assert!(
        !stderr.contains(FILE_SECRET),
        "the client secret was printed"
    );
    assert!(stderr.contains("--help"), "no usage hint in {stderr}");
}

#[tokio::test]
async fn unreadable_or_malformed_config_file_exits_2() {
    let missing = std::env::temp_dir().join(format!(
        "mcp-server-auth-no-such-config-{}.toml",
        std::process::id()
    ));
    let missing = missing.to_str().unwrap().to_owned();
    let not_toml = ConfigFile::new(
        "toml",
        "resource = \"https://mcp.example.com/mcp\n[[issuers",
    );
    let not_json = ConfigFile::new("json", r#"{"resource": "https://mcp.example.com/mcp","#);
    let not_a_map = ConfigFile::new("json", r#"["https://auth.example.com"]"#);
    for path in [
        missing.as_str(),
        not_toml.path(),
        not_json.path(),
        not_a_map.path(),
    ] {
        let stderr = usage_error(&["--config", path]).await;
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(path), "{first:?} should name {path}");
    }
}

#[tokio::test]
async fn config_combined_with_authorization_flags_exits_2() {
    let file = ConfigFile::new(
        "toml",
        "resource = \"https://mcp.example.com/mcp\"\n[[issuers]]\nissuer = \"https://auth.example.com\"\n",
    );
    let cases: &[&[&str]] = &[
        &["--issuer", "https://auth.example.com"],
        &["--allow-http-loopback"],
        &["--resource", "https://mcp.example.com/mcp"],
        &["--scope", "mcp:tools"],
        &["--tool-scope", "echo=mcp:echo"],
        &["--config", "/elsewhere.toml"],
    ];
    for extra in cases {
        let mut args = vec!["--config", file.path()];
        args.extend_from_slice(extra);
        let stderr = usage_error(&args).await;
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains("--config"), "{args:?}: {first:?}");
    }
}

/// The refusal of `--config` with other flags is one readable line, like every other usage
/// error.
#[tokio::test]
async fn config_conflict_message_has_no_stray_whitespace() {
    let (status, _, stderr) = run_to_exit(&[
        "--config",
        "/nonexistent.toml",
        "--issuer",
        "https://auth.example.com",
    ])
    .await;
    assert_eq!(status.code(), Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        !first.contains("  "),
        "a run of spaces in the message: {first:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile clients over raw sockets: slow bodies, huge bodies, many connections, shutdown
// ---------------------------------------------------------------------------------------------

/// The `host:port` the server listens on.
fn authority(server: &Server) -> String {
    server
        .url
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/mcp"))
        .unwrap()
        .to_owned()
}

/// The request head of a legacy `tools/call` POST with `token` and a body of `length` bytes.
fn head(server: &Server, token: &str, length: usize) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\naccept: {ACCEPT}\r\n\
         mcp-protocol-version: 2025-06-18\r\ncontent-length: {length}\r\n\r\n",
        authority(server)
    )
}

/// A connection to `server` that has sent the head of a request (see [`head`]), and no body.
async fn send_head(server: &Server, token: &str, length: usize) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let mut stream = tokio::net::TcpStream::connect(authority(server))
        .await
        .unwrap();
    stream
        .write_all(head(server, token, length).as_bytes())
        .await
        .unwrap();
    stream
}

/// Reads a response head from `stream`: its status and its headers, lower-cased.
async fn read_head(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, String) {
    use tokio::io::AsyncReadExt as _;
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while !received.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&received).to_lowercase();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap();
    (status, text)
}

/// Resident memory of process `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_made_up_token_with_a_body_dribbled_at_one_byte_a_second_gets_401_within_a_second() {
    use tokio::io::AsyncWriteExt as _;
    let issuer = TestIssuer::start().await;
    // The default per-tool rule (admin_reset=mcp:admin) is in force: bodies are read for it.
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    let stream = send_head(&server, "made.up.token", 100).await;
    let started = std::time::Instant::now();
    let (mut read_half, mut write_half) = stream.into_split();
    let dribble = async {
        for byte in b"{\"jsonrpc\":\"2.0\"" {
            if write_half.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        std::future::pending::<()>().await;
    };
    let (status, head) = tokio::select! {
        answer = read_head(&mut read_half) => answer,
        () = dribble => unreachable!(),
    };
    assert_eq!(status, 401, "{head}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(head.contains("connection: close"), "{head}");
}

#[tokio::test]
async fn a_made_up_token_with_a_10_mb_body_gets_401_not_413() {
    use tokio::io::AsyncWriteExt as _;
    let issuer = TestIssuer::start().await;
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    let mut stream = send_head(&server, "made.up.token", 10_000_000).await;
    let _ = stream.write_all(&[b' '; 65536]).await;
    let (status, head) = read_head(&mut stream).await;
    assert_eq!(status, 401, "{head}");
}

#[tokio::test]
async fn two_hundred_connections_holding_1_mib_bodies_with_made_up_tokens_cost_little_memory() {
    use tokio::io::AsyncWriteExt as _;
    let issuer = TestIssuer::start().await;
    let server = Server::start(&["--issuer", issuer.issuer()]).await;
    let pid = server.child.id();
    let before = rss_kib(pid);
    let mut streams = Vec::new();
    for _ in 0..200 {
        streams.push(send_head(&server, "made.up.token", 1024 * 1024).await);
    }
    // Each sends (what the kernel takes of) its 1 MiB body and gets its 401.
    let body = vec![b' '; 1024 * 1024];
    let mut statuses = Vec::new();
    for stream in &mut streams {
        let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(&body)).await;
        statuses.push(read_head(stream).await.0);
    }
    let after = rss_kib(pid);
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    let grown = after.saturating_sub(before);
    assert!(
        grown < 20 * 1024,
        "resident memory grew by {grown} KiB for 200 refused 1 MiB bodies"
    );
}

#[tokio::test]
async fn a_valid_token_whose_body_stalls_gets_408_after_the_deadline() {
    use tokio::io::AsyncWriteExt as _;
    let issuer = TestIssuer::start().await;
    let server =
        Server::start(&["--issuer", issuer.issuer(), "--body-read-timeout-secs", "1"]).await;
    server.wait_for_stderr("signing keys loaded").await;
    let token = issuer
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .sign();
    let mut stream = send_head(&server, &token, 100).await;
    stream.write_all(b"{\"jsonrpc\"").await.unwrap();
    let started = std::time::Instant::now();
    let (status, head) = tokio::time::timeout(Duration::from_secs(5), read_head(&mut stream))
        .await
        .expect("an answer after the deadline");
    assert_eq!(status, 408, "{head}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(head.contains("connection: close"), "{head}");
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_with_a_stalled_connection_exits_within_the_shutdown_deadline() {
    use tokio::io::AsyncWriteExt as _;
    let issuer = TestIssuer::start().await;
    let mut server = Server::start(&[
        "--issuer",
        issuer.issuer(),
        "--shutdown-timeout-secs",
        "2",
        // Longer than the shutdown deadline: the stalled body is not what ends the wait.
        "--body-read-timeout-secs",
        "60",
        "--header-read-timeout-secs",
        "60",
    ])
    .await;
    server.wait_for_stderr("signing keys loaded").await;
    let token = issuer
        .token()
        .audience(server.resource())
        .scope("mcp:tools")
        .sign();
    // One request whose body stalls, and one connection whose headers stall.
    let mut body_stalled = send_head(&server, &token, 100).await;
    body_stalled.write_all(b"{").await.unwrap();
    let mut head_stalled = tokio::net::TcpStream::connect(authority(&server))
        .await
        .unwrap();
    head_stalled
        .write_all(b"POST /mcp HTTP/1.1\r\nho")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let pid = i32::try_from(server.child.id()).unwrap();
    let started = std::time::Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "still running {:?} after SIGTERM; stderr:\n{}",
            started.elapsed(),
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "it waited for the deadline"
    );
    // No new connection is accepted any more.
    assert!(
        tokio::net::TcpStream::connect(authority(&server))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn headers_dribbled_at_one_byte_a_second_are_cut_off_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let issuer = TestIssuer::start().await;
    let server = Server::start(&[
        "--issuer",
        issuer.issuer(),
        "--header-read-timeout-secs",
        "1",
    ])
    .await;
    let mut stream = tokio::net::TcpStream::connect(authority(&server))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut closed = false;
    for byte in b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n" {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 1024];
        // Answered (perhaps a 408) or closed: the server let go.
        if tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer))
            .await
            .is_ok()
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "the connection stayed open for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
