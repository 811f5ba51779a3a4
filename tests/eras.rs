//! The reference vectors that depend on the MCP era, replayed against a real rmcp
//! `StreamableHttpService` behind `auth.layer()`, once as a 2025-11-25 client (the layer reads
//! the operation from the JSON-RPC body) and once as a 2026-07-28 client (`Mcp-Method` /
//! `Mcp-Name` headers, `_meta` protocol version, which rmcp checks against the headers).
//! Plus: SSE responses stream through the layer event by event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use http::request::Parts;
use http_body::Frame;
use mcp_server_auth::challenge::ParsedChallenge;
use mcp_server_auth::{McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::TestIssuer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

const LEGACY: &str = "2025-11-25";
const MODERN: &str = "2026-07-28";

// ---------------------------------------------------------------------------------------------
// The MCP server
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// Text to echo back.
    text: String,
}

#[derive(Clone)]
struct Tools {
    tool_router: ToolRouter<Self>,
    resets: Arc<AtomicUsize>,
}

#[tool_router]
impl Tools {
    fn new(resets: Arc<AtomicUsize>) -> Self {
        Tools {
            tool_router: Self::tool_router(),
            resets,
        }
    }

    #[tool(description = "Echo the given text")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }

    #[tool(description = "The verified token's identity")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = parts
            .extensions
            .get::<VerifiedToken>()
            .ok_or_else(|| ErrorData::internal_error("no VerifiedToken", None))?;
        let identity = json!({ "sub": token.subject(), "scopes": token.scopes() });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            identity.to_string(),
        )]))
    }

    #[tool(description = "Reset everything (admin only)")]
    async fn admin_reset(&self) -> String {
        self.resets.fetch_add(1, Ordering::SeqCst);
        "reset done".to_owned()
    }
}

#[tool_handler(router = self.tool_router, name = "eras", version = "0.0.0")]
impl ServerHandler for Tools {}

struct Mcp {
    addr: SocketAddr,
    url: String,
    issuer: TestIssuer,
    resets: Arc<AtomicUsize>,
}

impl Mcp {
    fn token(&self, subject: &str, scope: &str) -> String {
        self.issuer
            .token()
            .audience(self.url.clone())
            .subject(subject)
            .scope(scope)
            .sign()
    }
}

fn configure(resource: &str, issuer: &TestIssuer) -> McpAuthBuilder {
    McpAuth::builder(resource)
        .issuer(issuer.issuer(), issuer.keys())
        .require_scope("mcp:tools")
        .tool_scope("admin_reset", "mcp:admin")
        .allow_http_loopback(true)
}

/// rmcp at `/mcp` behind `auth.layer()`: stateless JSON unless `sessions`, then rmcp's default
/// configuration (legacy sessions, SSE responses).
async fn start(sessions: bool, extra: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> Mcp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = extra(configure(&url, &issuer)).build().unwrap();
    let config = if sessions {
        StreamableHttpServerConfig::default()
    } else {
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
    };
    let resets = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&resets);
    let mcp = StreamableHttpService::new(
        move || Ok(Tools::new(Arc::clone(&counter))),
        LocalSessionManager::default().into(),
        config,
    );
    let app = Router::new().nest_service("/mcp", mcp).layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Mcp {
        addr,
        url,
        issuer,
        resets,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests of either era
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// 2025-11-25: no `Mcp-Method`/`Mcp-Name`, no `_meta` protocol version.
    Legacy,
    /// 2026-07-28: `Mcp-Method`, `Mcp-Name` and the `_meta` protocol version, as rmcp demands.
    Modern,
}

/// A JSON-RPC request of `era` to `/mcp`, with `MCP-Protocol-Version: version` (if any).
fn rpc_as(
    server: &Mcp,
    era: Era,
    version: Option<&str>,
    method: &str,
    mut params: Value,
) -> reqwest::RequestBuilder {
    let mut request = common::client()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json");
    if let Some(version) = version {
        request = request.header("mcp-protocol-version", version);
    }
    if era == Era::Modern {
        request = request.header("mcp-method", method);
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str);
        if let Some(name) = name {
            request = request.header("mcp-name", name);
        }
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": version.unwrap_or(MODERN),
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": { "name": "eras", "version": "0.0.0" },
        });
    }
    let body = json!({ "jsonrpc": "2.0", "id": 7, "method": method, "params": params });
    request.body(body.to_string())
}

/// A JSON-RPC request as a client of `era` sends it.
fn rpc(server: &Mcp, era: Era, method: &str, params: Value) -> reqwest::RequestBuilder {
    let version = match era {
        Era::Legacy => LEGACY,
        Era::Modern => MODERN,
    };
    rpc_as(server, era, Some(version), method, params)
}

fn call_tool(server: &Mcp, era: Era, tool: &str, arguments: &Value) -> reqwest::RequestBuilder {
    rpc(
        server,
        era,
        "tools/call",
        json!({ "name": tool, "arguments": arguments }),
    )
}

/// The JSON-RPC message of a response body, plain JSON or the `data:` of an SSE event.
fn jsonrpc_of(text: &str) -> Value {
    if let Ok(value) = serde_json::from_str(text) {
        return value;
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|value| value.get("result").is_some() || value.get("error").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text:?}"))
}

/// Sends and returns status, headers and the JSON-RPC message of the body.
async fn send(request: reqwest::RequestBuilder) -> (u16, http::HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, jsonrpc_of(&text))
}

/// The text of the single content block of a successful tool result.
fn tool_text(message: &Value) -> &str {
    assert!(message.get("error").is_none(), "JSON-RPC error: {message}");
    let result = &message["result"];
    assert_ne!(result["isError"], true, "tool error: {message}");
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {message}"))
}

fn challenge_of(headers: &http::HeaderMap) -> ParsedChallenge {
    let values: Vec<_> = headers.get_all("www-authenticate").iter().collect();
    assert_eq!(values.len(), 1, "exactly one WWW-Authenticate header");
    ParsedChallenge::parse(values[0].to_str().unwrap()).expect("well-formed challenge")
}

// ---------------------------------------------------------------------------------------------
// Happy paths: each era reaches rmcp and runs a tool
// ---------------------------------------------------------------------------------------------

async fn happy_path(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let (status, _, message) =
        send(call_tool(&server, era, "echo", &json!({ "text": "hello" })).bearer_auth(&token))
            .await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(tool_text(&message), "hello");

    let (status, _, message) =
        send(call_tool(&server, era, "whoami", &json!({})).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    let identity: Value = serde_json::from_str(tool_text(&message)).unwrap();
    assert_eq!(identity["sub"], "alice");

    let (status, _, message) =
        send(rpc(&server, era, "tools/list", json!({})).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    let tools = message["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 3, "{message}");
}

#[tokio::test]
async fn happy_path_legacy_reaches_rmcp() {
    happy_path(Era::Legacy).await;
}

#[tokio::test]
async fn happy_path_modern_reaches_rmcp() {
    happy_path(Era::Modern).await;
}

#[tokio::test]
async fn modern_headers_contradicting_the_body_are_refused_by_rmcp() {
    // Control for the modern variants: rmcp really checks `Mcp-Name` against the body, so the
    // headers the modern requests carry are the ones rmcp validates.
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let request = call_tool(&server, Era::Modern, "echo", &json!({ "text": "x" }))
        .header("mcp-name", "whoami")
        .bearer_auth(&token);
    let (status, headers, message) = send(request).await;
    assert_eq!(status, 400, "{message}");
    assert!(headers.get("www-authenticate").is_none(), "not the layer");
    assert_eq!(message["id"], 7, "rmcp answers the request: {message}");
    assert_eq!(
        message["error"]["code"], -32020,
        "header mismatch: {message}"
    );
}

// ---------------------------------------------------------------------------------------------
// T11: a tool needing a scope the token lacks
// ---------------------------------------------------------------------------------------------

async fn t11(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools files:read");
    let (status, headers, body) =
        send(call_tool(&server, era, "admin_reset", &json!({})).bearer_auth(&token)).await;
    assert_eq!(status, 403, "never an HTTP 200 carrying an error: {body}");
    let challenge = challenge_of(&headers);
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    let expected = match era {
        // Up to 2025-11-25 the challenge also names what the token already has.
        Era::Legacy => "mcp:tools mcp:admin files:read",
        // From 2026-07-28 only the scopes the operation needs.
        Era::Modern => "mcp:tools mcp:admin",
    };
    assert_eq!(challenge.get("scope"), Some(expected));
    assert_eq!(body["error"], "insufficient_scope");
    assert_eq!(
        server.resets.load(Ordering::SeqCst),
        0,
        "the tool never ran"
    );

    // Other tools stay callable with the same token.
    let (status, _, message) =
        send(call_tool(&server, era, "echo", &json!({ "text": "ok" })).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(tool_text(&message), "ok");
}

#[tokio::test]
async fn t11_legacy_tool_scope_missing_gets_403_naming_required_and_granted_scopes() {
    t11(Era::Legacy).await;
}

#[tokio::test]
async fn t11_modern_tool_scope_missing_gets_403_naming_the_required_scopes() {
    t11(Era::Modern).await;
}

// ---------------------------------------------------------------------------------------------
// T12: a broader scope implying the endpoint scope
// ---------------------------------------------------------------------------------------------

async fn t12(era: Era) {
    let server = start(false, |b| b.scope_implies("mcp:admin", "mcp:tools")).await;
    let token = server.token("root", "mcp:admin");
    let (status, _, message) =
        send(call_tool(&server, era, "admin_reset", &json!({})).bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(tool_text(&message), "reset done");
    assert_eq!(server.resets.load(Ordering::SeqCst), 1, "the tool ran");

    // Without the rule the same token is short of `mcp:tools`.
    let strict = start(false, |b| b).await;
    let token = strict.token("root", "mcp:admin");
    let (status, _, body) =
        send(call_tool(&strict, era, "admin_reset", &json!({})).bearer_auth(&token)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(strict.resets.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn t12_legacy_admin_scope_implying_tools_runs_admin_reset() {
    t12(Era::Legacy).await;
}

#[tokio::test]
async fn t12_modern_admin_scope_implying_tools_runs_admin_reset() {
    t12(Era::Modern).await;
}

// ---------------------------------------------------------------------------------------------
// T14–T16: Origin and Host
// ---------------------------------------------------------------------------------------------

/// A 403 from the layer's guard: JSON-RPC, id null, no challenge (rmcp's own refusals are
/// plain text, so this also tells who answered).
fn assert_guard_refusal(status: u16, headers: &http::HeaderMap, body: &Value) {
    assert_eq!(status, 403, "{body}");
    assert!(headers.get("www-authenticate").is_none(), "not a challenge");
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    assert_eq!(body["id"], Value::Null, "{body}");
    assert_eq!(body["error"]["code"], -32000, "{body}");
    assert!(!body.to_string().contains("evil"), "header not echoed");
}

async fn t14(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let echo = || call_tool(&server, era, "echo", &json!({ "text": "x" }));

    let evil = "http://evil.example.com";
    let (status, headers, body) = send(echo().header("origin", evil)).await;
    assert_guard_refusal(status, &headers, &body);
    let (status, headers, body) = send(echo().header("origin", evil).bearer_auth(&token)).await;
    assert_guard_refusal(status, &headers, &body);

    let same = format!("http://127.0.0.1:{}", server.addr.port());
    for origin in [same.as_str(), "http://localhost:6274"] {
        let (status, headers, body) = send(echo().header("origin", origin)).await;
        assert_eq!(status, 401, "{origin}: {body}");
        assert_eq!(challenge_of(&headers).get("error"), None);
        let (status, _, message) = send(echo().header("origin", origin).bearer_auth(&token)).await;
        assert_eq!(status, 200, "{origin}: {message}");
        assert_eq!(tool_text(&message), "x");
    }
}

#[tokio::test]
async fn t14_legacy_evil_origin_gets_403_before_auth_allowed_origin_401() {
    t14(Era::Legacy).await;
}

#[tokio::test]
async fn t14_modern_evil_origin_gets_403_before_auth_allowed_origin_401() {
    t14(Era::Modern).await;
}

async fn t15(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let echo = || call_tool(&server, era, "echo", &json!({ "text": "x" })).bearer_auth(&token);
    let (status, headers, body) = send(echo().header("host", "evil.example.com")).await;
    assert_guard_refusal(status, &headers, &body);
    let host = format!("localhost:{}", server.addr.port());
    let (status, _, message) = send(echo().header("host", host)).await;
    assert_eq!(status, 200, "{message}");
}

#[tokio::test]
async fn t15_legacy_foreign_host_gets_403() {
    t15(Era::Legacy).await;
}

#[tokio::test]
async fn t15_modern_foreign_host_gets_403() {
    t15(Era::Modern).await;
}

async fn t16(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let echo = || call_tool(&server, era, "echo", &json!({ "text": "no origin" }));
    let (status, _, message) = send(echo().bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(tool_text(&message), "no origin");
    let (status, _, body) = send(echo()).await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn t16_legacy_absent_origin_passes() {
    t16(Era::Legacy).await;
}

#[tokio::test]
async fn t16_modern_absent_origin_passes() {
    t16(Era::Modern).await;
}

// ---------------------------------------------------------------------------------------------
// T17–T18: MCP-Protocol-Version
// ---------------------------------------------------------------------------------------------

async fn t17(era: Era) {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let request = rpc_as(
        &server,
        era,
        Some("1900-01-01"),
        "tools/call",
        json!({ "name": "echo", "arguments": { "text": "x" } }),
    );
    let (status, _, body) = send(request.bearer_auth(&token)).await;
    assert_eq!(status, 400, "{body}");
    // The body was read for the per-operation rules (after the token): its id is echoed.
    assert_eq!(body["id"], 7, "{body}");
    assert_eq!(body["error"]["code"], -32022, "{body}");
    assert_eq!(body["error"]["data"]["requested"], "1900-01-01");
    let supported = body["error"]["data"]["supported"].as_array().unwrap();
    for version in [MODERN, LEGACY] {
        assert!(supported.contains(&json!(version)), "{body}");
    }
}

#[tokio::test]
async fn t17_legacy_unsupported_version_gets_400_32022() {
    t17(Era::Legacy).await;
}

#[tokio::test]
async fn t17_modern_unsupported_version_gets_400_32022() {
    t17(Era::Modern).await;
}

#[tokio::test]
async fn t18_legacy_absent_version_header_reaches_rmcp() {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let request = rpc_as(
        &server,
        Era::Legacy,
        None,
        "tools/call",
        json!({ "name": "echo", "arguments": { "text": "x" } }),
    );
    let (status, _, message) = send(request.bearer_auth(&token)).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(tool_text(&message), "x");
}

/// A modern-shaped request (`_meta` protocol version 2026-07-28, `Mcp-Method`, `Mcp-Name`)
/// without the `MCP-Protocol-Version` header passes the layer (an absent header leaves the era
/// to the MCP server), and rmcp 3.9 refuses it: `400`, JSON-RPC `-32020` (header mismatch,
/// "request _meta protocolVersion requires MCP-Protocol-Version header"), the request's id.
#[tokio::test]
async fn t18_modern_header_is_required_by_the_mcp_server() {
    let server = start(false, |b| b).await;
    let token = server.token("alice", "mcp:tools");
    let request = rpc_as(
        &server,
        Era::Modern,
        None,
        "tools/call",
        json!({ "name": "echo", "arguments": { "text": "x" } }),
    );
    let (status, headers, body) = send(request.bearer_auth(&token)).await;
    assert_eq!(status, 400, "{body}");
    assert!(headers.get("www-authenticate").is_none(), "not the layer");
    assert_eq!(body["id"], 7, "rmcp answers the request: {body}");
    assert_eq!(body["error"]["code"], -32020, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MCP-Protocol-Version"),
        "{body}"
    );
    assert_eq!(server.resets.load(Ordering::SeqCst), 0);
}

// ---------------------------------------------------------------------------------------------
// T19: legacy session binding
// ---------------------------------------------------------------------------------------------

/// A legacy request on rmcp's session-ful server, optionally inside a session.
fn legacy_post(
    server: &Mcp,
    token: &str,
    session: Option<&str>,
    body: &Value,
) -> reqwest::RequestBuilder {
    let mut request = common::client()
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(token)
        .body(body.to_string());
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request
}

/// Initializes a legacy session with `token`; returns rmcp's `Mcp-Session-Id`.
async fn legacy_session(server: &Mcp, token: &str) -> String {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": LEGACY,
            "capabilities": {},
            "clientInfo": { "name": "eras", "version": "0.0.0" },
        },
    });
    let response = legacy_post(server, token, None, &initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let message = jsonrpc_of(&response.text().await.unwrap());
    assert_eq!(message["result"]["protocolVersion"], LEGACY, "{message}");
    let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let response = legacy_post(server, token, Some(&session), &initialized)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    session
}

fn whoami_body() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "whoami", "arguments": {} },
    })
}

#[tokio::test]
async fn t19_legacy_session_minted_for_one_user_is_not_found_for_another() {
    let server = start(true, |b| b).await;
    let alice = server.token("alice", "mcp:tools");
    let bob = server.token("bob", "mcp:tools");
    let session = legacy_session(&server, &alice).await;

    let (status, _, body) = send(legacy_post(&server, &bob, Some(&session), &whoami_body())).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["message"], "Session not found");
    assert_eq!(
        body["id"], 2,
        "the id of the request read for the per-operation rules"
    );

    let (status, headers, message) =
        send(legacy_post(&server, &alice, Some(&session), &whoami_body())).await;
    assert_eq!(status, 200, "{message}");
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"),
        "rmcp's session-ful SSE answer"
    );
    let identity: Value = serde_json::from_str(tool_text(&message)).unwrap();
    assert_eq!(identity["sub"], "alice");
}

/// Sessions do not exist in 2026-07-28: a modern request carrying another user's session id is
/// not refused by the layer, and rmcp serves it statelessly as the token's own user.
#[tokio::test]
async fn t19_modern_requests_carry_no_session_binding() {
    let server = start(true, |b| b).await;
    let alice = server.token("alice", "mcp:tools");
    let bob = server.token("bob", "mcp:tools");
    let session = legacy_session(&server, &alice).await;

    for session in [None, Some(session.as_str())] {
        let mut request = call_tool(&server, Era::Modern, "whoami", &json!({})).bearer_auth(&bob);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        let (status, _, message) = send(request).await;
        assert_ne!(status, 404, "session {session:?}: {message}");
        assert_eq!(status, 200, "session {session:?}: {message}");
        let identity: Value = serde_json::from_str(tool_text(&message)).unwrap();
        assert_eq!(identity["sub"], "bob");
    }
}

// ---------------------------------------------------------------------------------------------
// SSE streams through the layer
// ---------------------------------------------------------------------------------------------

/// A response body fed by a channel, one frame per message.
struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.get_mut()
            .0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }
}

/// An SSE stream: one event, ~2 s of silence, a second event, end.
async fn two_events() -> axum::response::Response {
    let (sender, receiver) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        sender
            .send(Bytes::from_static(b"event: message\ndata: first\n\n"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        sender
            .send(Bytes::from_static(b"event: message\ndata: second\n\n"))
            .await
            .unwrap();
    });
    http::Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(axum::body::Body::new(ChannelBody(receiver)))
        .unwrap()
}

async fn start_sse() -> Mcp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = configure(&url, &issuer).build().unwrap();
    let app = Router::new()
        .route("/mcp", get(two_events).post(two_events))
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Mcp {
        addr,
        url,
        issuer,
        resets: Arc::new(AtomicUsize::new(0)),
    }
}

/// Reads the response incrementally: the first event must arrive while the stream is open.
async fn assert_streamed(request: reqwest::RequestBuilder) {
    let start = Instant::now();
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let first = response.chunk().await.unwrap().expect("a first chunk");
    let first_at = Instant::now();
    let first = String::from_utf8(first.to_vec()).unwrap();
    assert!(first.contains("data: first"), "{first:?}");
    assert!(!first.contains("second"), "{first:?}");
    let mut rest = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let end_at = Instant::now();
    assert!(rest.contains("data: second"), "{rest:?}");
    let open_after_first = end_at - first_at;
    assert!(
        open_after_first >= Duration::from_millis(1500),
        "first event at {:?}, end at {:?}: the first event was held back",
        first_at - start,
        end_at - start
    );
}

#[tokio::test]
async fn sse_first_event_reaches_the_client_before_the_stream_ends() {
    let server = start_sse().await;
    let token = server.token("alice", "mcp:tools");
    for era in [Era::Legacy, Era::Modern] {
        // A POST whose body the layer reads (legacy) or whose headers it reads (modern).
        assert_streamed(
            call_tool(&server, era, "echo", &json!({ "text": "x" })).bearer_auth(&token),
        )
        .await;
    }
}

#[tokio::test]
async fn sse_first_event_of_a_legacy_get_stream_reaches_the_client_before_the_stream_ends() {
    let server = start_sse().await;
    let token = server.token("alice", "mcp:tools");
    let request = common::client()
        .get(&server.url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", LEGACY)
        .bearer_auth(&token);
    assert_streamed(request).await;
}
