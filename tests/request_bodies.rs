//! Request bodies under hostile clients, through the whole `McpAuth::layer()` stack: no byte is
//! read before the token is validated, reads are bounded in bytes, time and bytes held at once,
//! version refusals echo the JSON-RPC `id` of a body that was read anyway, and a connection is
//! closed only when bytes of the body remain unread.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use mcp_server_auth::{McpAuth, McpAuthBuilder};
use mcp_server_auth_dev::testing::TestIssuer;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tower::{Layer, ServiceExt, service_fn};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const ISSUER: &str = "https://auth.example.com";
const LEGACY: &str = "2025-06-18";
const MODERN: &str = "2026-07-28";

/// A body fed by the test through a channel, that records whether anything polled it and
/// announces `declared` bytes.
struct Probe {
    frames: mpsc::Receiver<Bytes>,
    declared: Option<u64>,
    polled: Arc<AtomicBool>,
}

impl Body for Probe {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.polled.store(true, Ordering::SeqCst);
        self.frames
            .poll_recv(cx)
            .map(|frame| frame.map(|data| Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(length) => SizeHint::with_exact(length),
            None => SizeHint::default(),
        }
    }
}

/// A probe body: the sender feeds it (drop the sender to end it).
fn probe(declared: Option<u64>) -> (Probe, mpsc::Sender<Bytes>, Arc<AtomicBool>) {
    let (sender, frames) = mpsc::channel(16);
    let polled = Arc::new(AtomicBool::new(false));
    let body = Probe {
        frames,
        declared,
        polled: Arc::clone(&polled),
    };
    (body, sender, polled)
}

struct Stack {
    auth: McpAuth,
    issuer: TestIssuer,
}

impl Stack {
    fn new(configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> Stack {
        let issuer = TestIssuer::new(ISSUER);
        let auth = configure(
            McpAuth::builder(RESOURCE)
                .issuer(issuer.issuer(), issuer.keys())
                .require_scope("mcp:tools"),
        )
        .build()
        .unwrap();
        Stack { auth, issuer }
    }

    fn token(&self, scope: &str) -> String {
        self.issuer.token().audience(RESOURCE).scope(scope).sign()
    }

    /// Sends `request` through the layer around a service that echoes the body it got, and
    /// gives up after 5 s (a hang is a failure, not a stuck test).
    async fn send<B>(&self, request: Request<B>) -> Response<Bytes>
    where
        B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
    {
        let service = self.auth.layer().layer(service_fn(
            |request: Request<mcp_server_auth::operation::RequestBody<B>>| async move {
                let body = request.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, Infallible>(Response::new(Full::new(body)))
            },
        ));
        let response = tokio::time::timeout(Duration::from_secs(5), service.oneshot(request))
            .await
            .expect("the layer answered within 5 s")
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Response::from_parts(parts, body)
    }
}

fn post(token: Option<&str>, version: Option<&str>) -> http::request::Builder {
    let mut request = Request::post(RESOURCE)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(version) = version {
        request = request.header("mcp-protocol-version", version);
    }
    request
}

fn call(id: u64, tool: &str) -> String {
    json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": { "name": tool, "arguments": {} },
    })
    .to_string()
}

fn json_of(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

fn closes(response: &Response<Bytes>) -> bool {
    response
        .headers()
        .get("connection")
        .is_some_and(|value| value == "close")
}

// ---------------------------------------------------------------------------------------------
// The token before the body
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_made_up_token_is_refused_before_any_body_byte_is_read() {
    let stack = Stack::new(|b| b.tool_scope("admin_reset", "mcp:admin"));
    // A body that never arrives: reading it would hang.
    let (body, _sender, polled) = probe(Some(100));
    let request = post(Some("made.up.token"), None)
        .header("content-length", "100")
        .body(body)
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(!polled.load(Ordering::SeqCst), "no body byte read");
    assert!(
        closes(&response),
        "the body is left unread: the connection closes"
    );
}

#[tokio::test]
async fn a_made_up_token_with_a_huge_body_gets_401_not_413() {
    let stack = Stack::new(|b| b.tool_scope("admin_reset", "mcp:admin"));
    let (body, _sender, polled) = probe(Some(10_000_000));
    let request = post(Some("made.up.token"), None)
        .header("content-length", "10000000")
        .body(body)
        .unwrap();
    assert_eq!(stack.send(request).await.status(), 401);
    assert!(!polled.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_valid_token_with_a_body_declared_over_the_cap_gets_413_without_a_read() {
    let stack = Stack::new(|b| b.tool_scope("admin_reset", "mcp:admin"));
    let token = stack.token("mcp:tools");
    let (body, _sender, polled) = probe(Some(10_000_000));
    let request = post(Some(&token), None)
        .header("content-length", "10000000")
        .body(body)
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), 413);
    assert_eq!(json_of(&response)["error"]["code"], -32600);
    assert!(!polled.load(Ordering::SeqCst));
    assert!(closes(&response));
}

#[tokio::test]
async fn a_valid_token_whose_body_stalls_gets_408_after_the_deadline() {
    let stack = Stack::new(|b| {
        b.tool_scope("admin_reset", "mcp:admin")
            .body_read_timeout(Duration::from_millis(300))
    });
    let token = stack.token("mcp:tools");
    let (body, sender, _) = probe(Some(100));
    // Some bytes, then nothing.
    sender
        .send(Bytes::from_static(b"{\"jsonrpc\""))
        .await
        .unwrap();
    let request = post(Some(&token), None)
        .header("content-length", "100")
        .body(body)
        .unwrap();
    let started = std::time::Instant::now();
    let response = stack.send(request).await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let body = json_of(&response);
    assert_eq!(body["error"]["code"], -32000, "{body}");
    assert_eq!(
        body["error"]["message"],
        "The request body did not arrive in time"
    );
    assert!(closes(&response));
}

#[tokio::test]
async fn bytes_held_at_once_are_bounded_and_the_excess_is_refused_at_once() {
    let stack = Stack::new(|b| {
        b.tool_scope("admin_reset", "mcp:admin")
            .max_body_bytes(1000)
            .max_buffered_bytes(1000)
    });
    let token = stack.token("mcp:tools");
    let auth = stack.auth.clone();
    let held_token = token.clone();
    // A first request holds 600 bytes of the budget while its body trickles in.
    let (held, sender, polled) = probe(Some(600));
    let first = tokio::spawn(async move {
        let service = auth.layer().layer(service_fn(
            |request: Request<mcp_server_auth::operation::RequestBody<Probe>>| async move {
                let body = request.into_body().collect().await.unwrap().to_bytes();
                Ok::<_, Infallible>(Response::new(Full::new(body)))
            },
        ));
        let request = post(Some(&held_token), None)
            .header("content-length", "600")
            .body(held)
            .unwrap();
        service.oneshot(request).await.unwrap().status()
    });
    while !polled.load(Ordering::SeqCst) {
        tokio::task::yield_now().await;
    }
    // A second one that would pass the bound is refused at once, unread.
    let (body, _second_sender, second_polled) = probe(Some(600));
    let request = post(Some(&token), None)
        .header("content-length", "600")
        .body(body)
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert!(!second_polled.load(Ordering::SeqCst));
    assert!(closes(&response));
    // A small one still fits.
    let small = call(1, "echo");
    let request = post(Some(&token), None)
        .header("content-length", small.len().to_string())
        .body(Full::new(Bytes::from(small.clone())))
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), small.as_bytes());

    // Once the first body is in and handed on, its bytes are given back.
    let padded = format!("{{\"pad\":\"{}\"}}", "x".repeat(590));
    assert_eq!(padded.len(), 600);
    sender.send(Bytes::from(padded)).await.unwrap();
    drop(sender);
    assert_eq!(first.await.unwrap(), 200);
    let (body, sender, _) = probe(Some(600));
    sender
        .send(Bytes::from(format!("{{\"pad\":\"{}\"}}", "y".repeat(590))))
        .await
        .unwrap();
    drop(sender);
    let request = post(Some(&token), None)
        .header("content-length", "600")
        .body(body)
        .unwrap();
    assert_eq!(stack.send(request).await.status(), 200);
}

#[tokio::test]
async fn an_unauthenticated_body_is_read_only_for_anonymous_methods() {
    let stack = Stack::new(|b| {
        b.tool_scope("admin_reset", "mcp:admin")
            .allow_anonymous("initialize")
    });
    // Without credentials the body is read to tell an anonymous call...
    let initialize =
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}).to_string();
    let request = post(None, None)
        .header("content-length", initialize.len().to_string())
        .body(Full::new(Bytes::from(initialize.clone())))
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), initialize.as_bytes());
    // ...but a made-up token is still refused before any byte of its body is read.
    let (body, _sender, polled) = probe(Some(100));
    let request = post(Some("made.up.token"), None)
        .header("content-length", "100")
        .body(body)
        .unwrap();
    assert_eq!(stack.send(request).await.status(), 401);
    assert!(!polled.load(Ordering::SeqCst));
}

// ---------------------------------------------------------------------------------------------
// Version refusals echo the id of a body that was read anyway
// ---------------------------------------------------------------------------------------------

/// A request refused for its version, in the given era's shape, with `id: 301`.
fn refused_version(token: Option<&str>, modern: bool) -> Request<Full<Bytes>> {
    let mut body = json!({
        "jsonrpc": "2.0", "id": 301, "method": "tools/call",
        "params": { "name": "echo", "arguments": {} },
    });
    let mut request = post(token, Some(if modern { MODERN } else { "1999-01-01" }));
    if modern {
        request = request
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo");
        body["params"]["_meta"] = json!({ "io.modelcontextprotocol/protocolVersion": MODERN });
    }
    let body = body.to_string();
    request
        .header("content-length", body.len().to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::test]
async fn version_refusals_echo_the_request_id_in_both_eras() {
    use mcp_server_auth::protocol_version::ProtocolVersion;
    // Only legacy revisions supported, so a 2026-07-28 request is refused too.
    let legacy_only = [ProtocolVersion::V2025_06_18, ProtocolVersion::V2025_11_25];
    for rules in [true, false] {
        let stack = Stack::new(|b| {
            let b = b.protocol_versions(legacy_only);
            if rules {
                b.tool_scope("admin_reset", "mcp:admin")
            } else {
                b
            }
        });
        let token = stack.token("mcp:tools");
        for modern in [false, true] {
            let response = stack.send(refused_version(Some(&token), modern)).await;
            assert_eq!(response.status(), 400, "rules {rules}, modern {modern}");
            let body = json_of(&response);
            assert_eq!(body["error"]["code"], -32022, "{body}");
            assert_eq!(body["id"], 301, "rules {rules}, modern {modern}: {body}");
            assert!(!closes(&response), "the body was read to the end");
        }
    }
}

#[tokio::test]
async fn an_unauthenticated_body_is_never_read_for_an_id() {
    let stack = Stack::new(|b| {
        b.protocol_versions([mcp_server_auth::protocol_version::ProtocolVersion::V2025_06_18])
    });
    // No credentials and no anonymous method: 401 first, nothing read.
    let response = stack.send(refused_version(None, false)).await;
    assert_eq!(response.status(), 401);
    // A made-up token: 401 as well.
    let response = stack
        .send(refused_version(Some("made.up.token"), false))
        .await;
    assert_eq!(response.status(), 401);

    // An anonymous call is read (to know it is anonymous), so its refusal can answer its id.
    let stack = Stack::new(|b| {
        b.protocol_versions([mcp_server_auth::protocol_version::ProtocolVersion::V2025_06_18])
            .allow_anonymous("tools/call")
    });
    let response = stack.send(refused_version(None, false)).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json_of(&response)["id"], 301);
}

#[tokio::test]
async fn ids_that_are_not_strings_or_numbers_are_not_echoed() {
    let stack = Stack::new(|b| {
        b.protocol_versions([mcp_server_auth::protocol_version::ProtocolVersion::V2025_06_18])
    });
    let token = stack.token("mcp:tools");
    for (id, expected) in [
        (json!("req-7"), json!("req-7")),
        (json!({"evil": true}), Value::Null),
        (json!([1]), Value::Null),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"}).to_string();
        let request = post(Some(&token), Some("1999-01-01"))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = stack.send(request).await;
        assert_eq!(response.status(), 400);
        assert_eq!(json_of(&response)["id"], expected);
    }
    // A batch has no single id.
    let batch = format!("[{},{}]", call(1, "echo"), call(2, "echo"));
    let request = post(Some(&token), Some("1999-01-01"))
        .body(Full::new(Bytes::from(batch)))
        .unwrap();
    assert_eq!(json_of(&stack.send(request).await)["id"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Connection: close only when bytes remain unread
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refusal_after_the_whole_body_was_read_keeps_the_connection() {
    let stack = Stack::new(|b| b.tool_scope("admin_reset", "mcp:admin"));
    let token = stack.token("mcp:tools");
    let body = call(1, "admin_reset");
    let request = post(Some(&token), Some(LEGACY))
        .header("content-length", body.len().to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), 403, "admin_reset needs mcp:admin");
    assert!(!closes(&response), "nothing left unread");

    // A 401 before the body: bytes remain, the connection closes.
    let body = call(1, "echo");
    let request = post(Some("made.up.token"), Some(LEGACY))
        .header("content-length", body.len().to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = stack.send(request).await;
    assert_eq!(response.status(), 401);
    assert!(closes(&response));
}
