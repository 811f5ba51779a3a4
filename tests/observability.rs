//! What the layer tells operators: one event per decision with stable fields, counters through
//! the `metrics` facade, and never a token or key material in any log line at any level.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use mcp_server_auth::McpAuth;
use mcp_server_auth::operation::RequestBody;
use mcp_server_auth_dev::testing::TestIssuer;
use tower::{Layer, ServiceExt, service_fn};

/// Everything every subscriber layer wrote, at every level, from every target.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

type Inner = Request<RequestBody<Full<Bytes>>>;

async fn send(auth: &McpAuth, authorization: Option<&str>) -> StatusCode {
    let service = auth.layer().layer(service_fn(|_request: Inner| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
    }));
    let mut request = Request::post("/mcp").header("content-type", "application/json");
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let request = request
        .body(Full::new(Bytes::from_static(
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
        )))
        .unwrap();
    service.oneshot(request).await.unwrap().status()
}

/// The token with its signature's first character changed: a forgery of the same length.
fn forged(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{input}.{first}{}", &signature[1..])
}

#[tokio::test(flavor = "current_thread")]
async fn every_decision_is_logged_with_stable_fields_and_no_token_or_key_ever_appears() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global, not scoped to this thread: events of the key fetch task and of callsites first
    // hit by other tests' threads must land here too.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let issuer = TestIssuer::start().await;
    let auth = McpAuth::builder("http://127.0.0.1:1/mcp")
        .authorization_server(issuer.issuer())
        .require_scope("mcp:tools")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let token = issuer
        .token()
        .audience("http://127.0.0.1:1/mcp")
        .scope("mcp:tools")
        .client_id("observed-client")
        .sign();
    let forged = forged(&token);
    let expired = issuer
        .token()
        .audience("http://127.0.0.1:1/mcp")
        .scope("mcp:tools")
        .expires_in(-3600)
        .sign();
    let unscoped = issuer
        .token()
        .audience("http://127.0.0.1:1/mcp")
        .scope("other")
        .client_id("unscoped-client")
        .sign();
    let unknown_kid = issuer
        .token()
        .audience("http://127.0.0.1:1/mcp")
        .scope("mcp:tools")
        .header("kid", "kid-nobody-published")
        .sign();

    let bearer = |t: &str| format!("Bearer {t}");
    assert_eq!(send(&auth, Some(&bearer(&token))).await, StatusCode::OK);
    assert_eq!(send(&auth, Some(&bearer(&token))).await, StatusCode::OK);
    assert_eq!(
        send(&auth, Some(&bearer(&forged))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&auth, Some(&bearer(&expired))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&auth, Some(&bearer(&unscoped))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&auth, Some(&bearer(&unknown_kid))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&auth, None).await, StatusCode::UNAUTHORIZED);
    let junk = format!("Bearer {token} trailing");
    assert_eq!(send(&auth, Some(&junk)).await, StatusCode::BAD_REQUEST);

    let logs = captured.text();
    // One event per decision, with stable fields.
    for expected in [
        r#"outcome="accepted" issuer="#,
        "client_id=\"observed-client\" cached=false",
        "client_id=\"observed-client\" cached=true",
        r#"outcome="rejected" status=401 reason="bad_signature""#,
        r#"outcome="rejected" status=401 reason="expired""#,
        r#"outcome="rejected" status=401 reason="unknown_key""#,
        r#"outcome="rejected" status=401 reason="missing_credentials" method="POST" path="/mcp""#,
        r#"outcome="rejected" status=400 reason="malformed_credentials""#,
        r#"outcome="rejected" status=403 reason="insufficient_scope" issuer="#,
        "client_id=\"unscoped-client\"",
        "keys loaded",
    ] {
        assert!(logs.contains(expected), "no `{expected}` in:\n{logs}");
    }

    // Never a token, a part of one, or key material, at any level, from any target.
    let mut secrets: Vec<(String, String)> = Vec::new();
    for (name, t) in [
        ("token", &token),
        ("forged", &forged),
        ("expired", &expired),
        ("unscoped", &unscoped),
        ("unknown kid", &unknown_kid),
    ] {
        secrets.push((name.to_owned(), t.clone()));
        for (i, segment) in t.split('.').enumerate() {
            secrets.push((format!("{name} segment {i}"), segment.to_owned()));
        }
    }
    let jwk = issuer.jwk();
    for field in ["x", "y", "n", "e", "d"] {
        if let Some(value) = jwk.get(field).and_then(|v| v.as_str())
            && value.len() > 8
        {
            secrets.push((format!("key {field}"), value.to_owned()));
        }
    }
    for (name, secret) in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "{name} appears in the logs"
        );
    }
}

#[cfg(feature = "metrics")]
#[test]
fn counters_count_decisions_cache_lookups_and_key_fetches() {
    use mcp_server_auth::observe::counters;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let issuer = TestIssuer::start().await;
                let auth = McpAuth::builder("http://127.0.0.1:1/mcp")
                    .authorization_server(issuer.issuer())
                    .require_scope("mcp:tools")
                    .allow_http_loopback(true)
                    .build()
                    .unwrap();
                let token = issuer
                    .token()
                    .audience("http://127.0.0.1:1/mcp")
                    .scope("mcp:tools")
                    .sign();
                let bearer = format!("Bearer {token}");
                assert_eq!(send(&auth, Some(&bearer)).await, StatusCode::OK);
                assert_eq!(send(&auth, Some(&bearer)).await, StatusCode::OK);
                let forged = format!("Bearer {}", forged(&token));
                assert_eq!(send(&auth, Some(&forged)).await, StatusCode::UNAUTHORIZED);
                assert_eq!(send(&auth, None).await, StatusCode::UNAUTHORIZED);
            });
    });

    let snapshot = snapshotter.snapshot().into_vec();
    let count = |name: &str, label: (&str, &str)| -> u64 {
        snapshot
            .iter()
            .filter(|(key, _, _, _)| {
                let key = key.key();
                key.name() == name
                    && key
                        .labels()
                        .any(|l| l.key() == label.0 && l.value() == label.1)
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(count(counters::ACCEPTED, ("cached", "false")), 1);
    assert_eq!(count(counters::ACCEPTED, ("cached", "true")), 1);
    assert_eq!(count(counters::REJECTED, ("reason", "bad_signature")), 1);
    assert_eq!(
        count(counters::REJECTED, ("reason", "missing_credentials")),
        1
    );
    assert_eq!(count(counters::CACHE_LOOKUPS, ("outcome", "hit")), 1);
    // The first request looked up twice (before and after its issuer's keys loaded), and so
    // did the forgery (before and after the refresh its failed signature asks for).
    assert_eq!(count(counters::CACHE_LOOKUPS, ("outcome", "miss")), 4);
    assert!(count(counters::KEY_FETCHES, ("outcome", "ok")) >= 1);
}
