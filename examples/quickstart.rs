//! Quickstart: an MCP server that only answers requests carrying a valid OAuth access token,
//! and a development authorization server next to it, so that real MCP clients (MCP Inspector,
//! Claude Code, VS Code) go through the whole OAuth flow against it.
//!
//! ```text
//! cargo run --example quickstart                       # MCP on :8080, authorization server on :8081
//! PORT=9000 DEV_AS_PORT=9001 cargo run --example quickstart
//! DEV_AS_AUTO_APPROVE=1 cargo run --example quickstart  # no consent page (scripted tests)
//! ```
//!
//! No identity provider is needed: a **development authorization server**
//! ([`DevAuthServer`]) runs in the same process, with a signing key generated in memory at
//! every start, dynamic client registration, a consent page and refresh tokens. The program
//! prints how to connect MCP Inspector, Claude Code and VS Code, and also ready-made tokens
//! with `curl` commands that walk through 401 → metadata → 200, then a 403 step-up challenge
//! for a tool that needs a scope the token lacks.
//!
//! # DEVELOPMENT ONLY
//!
//! **Never use [`DevAuthServer`] in production.** It grants tokens to anyone on this machine
//! who clicks Allow, and whoever runs this program holds its signing key. A real deployment
//! trusts its authorization server's published keys instead; see the `protected_server`
//! example.
//!
//! # What is where
//!
//! * The MCP server is an rmcp [`StreamableHttpService`] in stateless JSON mode, so each `curl`
//!   POST stands alone: no session, no SSE stream.
//! * It is nested at `/mcp` in an axum [`Router`], and [`McpAuth::layer`] wraps the whole
//!   router: it answers the protected resource metadata (RFC 9728) at
//!   `/.well-known/oauth-protected-resource/mcp`, which names the development authorization
//!   server, and refuses every other request without a valid bearer token (401 with a
//!   `WWW-Authenticate` challenge that points clients to the metadata).
//! * The layer trusts the development authorization server like any other: its keys come from
//!   the JWKS its RFC 8414 metadata names.
//! * Per-tool scopes are enforced by the layer too: `tool_scope("admin_reset", "mcp:admin")`
//!   makes a `tools/call` of `admin_reset` without `mcp:admin` get HTTP 403
//!   `insufficient_scope`, whose `WWW-Authenticate` challenge names the scopes to ask for
//!   (step-up authorization): clients then send the user back to the consent page for
//!   `mcp:admin`. The tool never runs for such a token.
//! * Requests that pass reach the tools with a [`VerifiedToken`] in the HTTP request's
//!   extensions, and without their `Authorization` header (tools must never forward the
//!   client's token). The tools read it from the `http::request::Parts` rmcp hands them.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use http::request::Parts;
use mcp_server_auth::{McpAuth, VerifiedToken};
use mcp_server_auth_dev::dev_server::{DevAuthServer, DevServerError};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[path = "common/serve.rs"]
mod serve;

/// The scope every request to the MCP endpoint needs.
const TOOLS_SCOPE: &str = "mcp:tools";
/// The extra scope a `tools/call` of `admin_reset` needs (enforced by the layer).
const ADMIN_SCOPE: &str = "mcp:admin";

// ---------------------------------------------------------------------------------------------
// The MCP server: three tools.
// ---------------------------------------------------------------------------------------------

/// The MCP server. rmcp builds a fresh one per request in stateless mode, so it holds no state
/// beyond its tool table.
#[derive(Clone)]
struct Quickstart {
    tool_router: ToolRouter<Self>,
}

/// Arguments of the `echo` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// The text to send back.
    text: String,
}

/// The token the auth layer verified for this request.
///
/// The layer wraps every route, so a request without one never gets this far. Should the server
/// be wired differently (say, the layer forgotten), answer with an error instead of panicking.
fn verified_token(parts: &Parts) -> Result<&VerifiedToken, ErrorData> {
    VerifiedToken::from_extensions(&parts.extensions).ok_or_else(|| {
        ErrorData::internal_error("no verified token: the auth layer does not wrap /mcp", None)
    })
}

#[tool_router]
impl Quickstart {
    fn new() -> Self {
        Quickstart {
            tool_router: Self::tool_router(),
        }
    }

    /// `Extension<Parts>` gives the tool the HTTP request it came in; the verified token is in
    /// its extensions.
    #[tool(description = "Who is calling: the subject, client, issuer and scopes of the token")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = verified_token(&parts)?;
        let identity = json!({
            "sub": token.subject(),
            "client_id": token.client_id(),
            "iss": token.issuer(),
            "scopes": token.scopes(),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            identity.to_string(),
        )]))
    }

    #[tool(description = "Send back the given text")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    /// No scope check here: the layer (`tool_scope("admin_reset", ADMIN_SCOPE)` in `main`)
    /// answers a call without `mcp:admin` with HTTP 403 before it reaches the tool.
    #[tool(description = "Reset the server (pretend). Needs the mcp:admin scope")]
    async fn admin_reset(&self) -> String {
        "reset done (nothing was actually reset: this is a demo)".to_owned()
    }
}

#[tool_handler(router = self.tool_router, name = "mcp-server-auth-quickstart", version = "0.1.0")]
impl ServerHandler for Quickstart {}

// ---------------------------------------------------------------------------------------------
// Wiring: development authorization server, auth configuration, router.
// ---------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    // The development authorization server logs a warning at start. `RUST_LOG=mcp_server_auth=debug`
    // also shows why each request was refused.
    // On stderr, one short line each, so that the instructions on stdout keep the first screen.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();

    let port = port_from_env("PORT", 8080)?;
    let as_port = port_from_env("DEV_AS_PORT", 8081)?;
    let auto_approve = matches!(
        std::env::var("DEV_AS_AUTO_APPROVE").as_deref(),
        Ok("1" | "true" | "yes")
    );

    // Loopback only: this server trusts an authorization server that hands out tokens to anyone.
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .map_err(|error| cannot_listen(&error, port, "PORT"))?;
    let addr = listener.local_addr()?;

    // The resource identifier: the URL clients use, the `aud` tokens must carry, and the
    // `resource` published in the metadata.
    let resource = format!("http://{addr}/mcp");

    // DEVELOPMENT ONLY: an authorization server with a signing key generated right now.
    let dev_as = DevAuthServer::builder()
        .port(as_port)
        .resource(resource.clone())
        .scopes([TOOLS_SCOPE, ADMIN_SCOPE])
        .auto_approve(auto_approve)
        .start()
        .await
        .map_err(|error| match error {
            DevServerError::Bind { source, .. } => cannot_listen(&source, as_port, "DEV_AS_PORT"),
            other => other.to_string(),
        })?;

    let auth = McpAuth::builder(resource.clone())
        // Keys from the authorization server's metadata and JWKS, as with a real one.
        .authorization_server(dev_as.issuer())
        .require_scope(TOOLS_SCOPE)
        // `tools/call` of admin_reset also needs mcp:admin: 403 with a step-up challenge
        // otherwise, so the tool itself need not check.
        .tool_scope("admin_reset", ADMIN_SCOPE)
        // Tool scopes are not published on their own: list every scope clients may ask for.
        .scopes_supported([TOOLS_SCOPE, ADMIN_SCOPE])
        // `http://127.0.0.1` is fine for a local demo; anything else must be https.
        .allow_http_loopback(true)
        .build()?;

    // Stateless JSON mode: every POST is answered on its own with `application/json`, so plain
    // curl works without a session. (rmcp's default, sessions with SSE, also works behind the
    // layer; MCP client libraries handle either.)
    let mcp = StreamableHttpService::new(
        || Ok(Quickstart::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );

    // The layer goes on the outermost router, so it sees full paths: it serves the metadata
    // document itself and protects every route, including ones added later.
    // With CORS, so that browser-based clients (MCP Inspector in direct mode, from
    // http://localhost:6274) can call it: a loopback resource accepts loopback origins.
    let app = Router::new()
        .nest_service("/mcp", mcp)
        .layer(auth.layer_with_cors());

    // Tokens without OAuth, signed with the authorization server's own key.
    let tools_token = dev_as
        .signer()
        .token()
        .audience(resource.clone())
        .subject("dev-user")
        .client_id("quickstart-client")
        .scope(TOOLS_SCOPE)
        .expires_in(3600)
        .sign();
    let admin_token = dev_as
        .signer()
        .token()
        .audience(resource.clone())
        .subject("dev-admin")
        .client_id("quickstart-client")
        .scope(format!("{TOOLS_SCOPE} {ADMIN_SCOPE}"))
        .expires_in(3600)
        .sign();

    print_instructions(&resource, &auth, &dev_as, &tools_token, &admin_token);

    // axum's server loop, plus a header-read timeout and a shutdown deadline
    // (examples/common/serve.rs).
    let ctrl_c = async {
        // Ctrl-C stops the server; should the signal handler fail, keep serving.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    serve::serve(listener, app, serve::Limits::default(), ctrl_c).await;
    Ok(())
}

/// Why the port in the variable `variable` cannot be listened on, and what to do about it.
fn cannot_listen(error: &std::io::Error, port: u16, variable: &str) -> String {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        format!(
            "port {port} is already in use ({variable}). Stop what holds it, or pick another:\n  \
             {variable}=<port> cargo run --example quickstart\n\
             (PORT moves the MCP server, DEV_AS_PORT the authorization server; 0 picks a free port)"
        )
    } else {
        format!("cannot listen on 127.0.0.1:{port} ({variable}): {error}")
    }
}

/// The port in the environment variable `name`, or `default`.
fn port_from_env(name: &str, default: u16) -> Result<u16, String> {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map_err(|_| format!("{name} must be a port number, got {value:?}")),
        Err(_) => Ok(default),
    }
}

// ---------------------------------------------------------------------------------------------
// What to try.
// ---------------------------------------------------------------------------------------------

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}"#;
const CALL_WHOAMI: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
const CALL_ADMIN_RESET: &str = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}"#;

/// A copy-pasteable `curl` POST to the MCP endpoint, with `authorization` as the value of the
/// `Authorization` header if given (shell variables expand: it is double-quoted).
fn curl_post(url: &str, authorization: Option<&str>, extra_headers: &[&str], body: &str) -> String {
    // -sS: no progress meter, but errors; -i: show status and headers; -w: end with a newline.
    let mut lines = vec![format!("curl -sS -i -w '\\n' -X POST {url}")];
    if let Some(value) = authorization {
        lines.push(format!("-H \"Authorization: {value}\""));
    }
    lines.push("-H 'Accept: application/json, text/event-stream'".to_owned());
    lines.push("-H 'Content-Type: application/json'".to_owned());
    lines.extend(extra_headers.iter().map(|h| format!("-H '{h}'")));
    lines.push(format!("-d '{body}'"));
    lines.join(" \\\n       ")
}

fn print_instructions(
    resource: &str,
    auth: &McpAuth,
    dev_as: &DevAuthServer,
    tools_token: &str,
    admin_token: &str,
) {
    let metadata_url = auth.metadata_url();
    let issuer = dev_as.issuer();
    let consent = if dev_as.auto_approve() {
        "off (DEV_AS_AUTO_APPROVE=1: approved at once)"
    } else {
        "on (DEV_AS_AUTO_APPROVE=1 approves without it)"
    };
    let version = "MCP-Protocol-Version: 2025-06-18";
    // The endpoint and how to connect each client come first, in 80 columns and few enough
    // lines that they stay on an 80x24 screen with the development server's start warning
    // above them (tests/quickstart.rs checks it). Tokens are printed once, in the `export`
    // lines further down.
    println!(
        "\
mcp-server-auth quickstart. DEVELOPMENT ONLY: the authorization server below
gives tokens to anyone on this machine who clicks Allow. Never deploy it.
MCP endpoint (resource)      {resource}
Authorization server         {issuer}
Consent page                 {consent}

Connect a client: it gets a 401, finds the authorization server, registers,
and opens the consent page in your browser; Allow, and it is connected.
MCP Inspector 2.x (needs Node >= 22.19: older Node quietly gets Inspector 0.15):
  npx @modelcontextprotocol/inspector
  Add Servers, Streamable HTTP, URL {resource}, Connect
Claude Code:
  claude mcp add --transport http quickstart {resource}
  then /mcp in Claude Code, select quickstart, Authenticate
VS Code: in .vscode/mcp.json, then Start on the server entry:
  {{ \"servers\": {{ \"quickstart\": {{ \"type\": \"http\",
                                 \"url\": \"{resource}\" }} }} }}
Step-up: ask for admin_reset. The server answers 403 insufficient_scope, the
client sends you back to the consent page for {ADMIN_SCOPE}: Allow, then run the
tool again. Scopes: {TOOLS_SCOPE} (every request), {ADMIN_SCOPE} (admin_reset).
Ctrl-C stops both servers. Logs go to stderr.

---- Or with curl, from another shell -----------------------------------------
Ready tokens signed by the same authorization server, valid for 1 hour, for
{resource}: $TOKEN has scope \"{TOOLS_SCOPE}\" (sub dev-user),
$ADMIN_TOKEN \"{TOOLS_SCOPE} {ADMIN_SCOPE}\" (sub dev-admin).

export TOKEN='{tools_token}'
export ADMIN_TOKEN='{admin_token}'

# 1. No token: 401, and WWW-Authenticate points at the metadata (resource_metadata=...)
{no_token}

# 2. The protected resource metadata: which authorization server to ask, which scopes
#    exist; then the authorization server's own metadata
curl -sS -w '\\n' {metadata_url}
curl -sS -w '\\n' {as_metadata}

# 3. initialize with the token: 200
{initialize}

# 4. tools/call whoami with the token: 200, the identity the server verified
{whoami}

# 5. tools/call admin_reset with $TOKEN (no {ADMIN_SCOPE}): HTTP 403, and a step-up challenge
#    WWW-Authenticate: Bearer error=\"insufficient_scope\", ..., scope=\"{TOOLS_SCOPE} {ADMIN_SCOPE}\", ...
#    names the scopes to ask the authorization server for; the tool does not run
{admin_denied}

#    the same call with $ADMIN_TOKEN: 200, the tool's result
{admin_ok}
",
        as_metadata = dev_as.metadata_url(),
        no_token = curl_post(resource, None, &[], INITIALIZE),
        initialize = curl_post(resource, Some("Bearer $TOKEN"), &[], INITIALIZE),
        whoami = curl_post(resource, Some("Bearer $TOKEN"), &[version], CALL_WHOAMI),
        admin_denied = curl_post(
            resource,
            Some("Bearer $TOKEN"),
            &[version],
            CALL_ADMIN_RESET
        ),
        admin_ok = curl_post(
            resource,
            Some("Bearer $ADMIN_TOKEN"),
            &[version],
            CALL_ADMIN_RESET
        ),
    );
}
