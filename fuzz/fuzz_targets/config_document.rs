//! A configuration document (input starting with `{`: JSON) or an environment (otherwise:
//! `NAME=value` lines, each name prefixed with `MCP_AUTH_`), built. Must never panic; a refused
//! configuration names at least one problem, each with a field, and its messages never repeat
//! a client secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_server_auth::config::McpAuthConfig;

fn check(config: &McpAuthConfig, secret: Option<&str>) {
    match config.build() {
        Ok(_) => {}
        Err(errors) => {
            assert!(!errors.problems().is_empty(), "refused without a problem");
            for problem in errors.problems() {
                assert!(!problem.field().is_empty());
                assert!(!problem.message().is_empty());
            }
            // Messages never repeat values (fields are names the input chose, so may).
            if let Some(secret) = secret.filter(|s| s.len() >= 8) {
                for problem in errors.problems() {
                    assert!(!problem.message().contains(secret), "secret echoed");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'{') {
        if let Ok(config) = serde_json::from_slice::<McpAuthConfig>(data) {
            check(&config, None);
        }
        return;
    }
    let text = String::from_utf8_lossy(data);
    let variables: Vec<(&str, &str)> = text
        .lines()
        .map(|line| line.split_once('=').unwrap_or((line, "")))
        .collect();
    let secret = variables
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("INTROSPECTION_CLIENT_SECRET"))
        .map(|(_, v)| *v);
    let vars = variables
        .iter()
        .map(|(k, v)| (format!("MCP_AUTH_{k}"), (*v).to_owned()));
    check(&McpAuthConfig::from_env_vars(vars), secret);
});
