//! Per-operation scopes through a real axum server: legacy requests are decided from the
//! JSON-RPC body (replayed byte for byte), 2026-07-28 requests from `Mcp-Method`/`Mcp-Name`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use common::{ISSUER, bind, challenge, client};
use mcp_server_auth::{McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::TestIssuer;
use proptest::prelude::*;
use serde_json::Value;

struct App {
    url: String,
    resource: String,
    issuer: TestIssuer,
}

/// Echoes the exact body bytes the handler received, and whether it had a token.
async fn echo_body(token: Option<VerifiedToken>, body: Bytes) -> (http::HeaderMap, Bytes) {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-had-token",
        http::HeaderValue::from_static(if token.is_some() { "yes" } else { "no" }),
    );
    (headers, body)
}

async fn app(configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> App {
    let issuer = TestIssuer::new(ISSUER);
    let (listener, resource) = bind().await;
    let auth = configure(
        McpAuth::builder(resource.clone())
            .issuer(issuer.issuer(), issuer.keys())
            .require_scope("mcp:tools")
            .tool_scope("admin_reset", "mcp:admin")
            .allow_http_loopback(true),
    )
    .build()
    .unwrap();
    let router = Router::new()
        .route("/mcp", post(echo_body))
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    App {
        url: resource.clone(),
        resource,
        issuer,
    }
}

impl App {
    fn token(&self, scope: &str) -> String {
        self.issuer
            .token()
            .audience(self.resource.clone())
            .scope(scope)
            .sign()
    }

    async fn post(
        &self,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &str,
    ) -> reqwest::Response {
        let mut request = client()
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

const ADMIN_RESET: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin_reset","arguments":{}}}"#;
const ECHO: &str = r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#;
const MODERN_ADMIN_RESET: [(&str, &str); 3] = [
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
    ("mcp-name", "admin_reset"),
];

async fn assert_step_up(response: reqwest::Response, scope: &str) {
    assert_eq!(
        response.status(),
        403,
        "an HTTP 403, never a 200 carrying an error"
    );
    let parsed = challenge(&response);
    assert_eq!(parsed.get("error"), Some("insufficient_scope"));
    assert_eq!(parsed.get("scope"), Some(scope));
    assert!(parsed.get("resource_metadata").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
}

#[tokio::test]
async fn t11_legacy_tool_call_without_its_scope_gets_one_challenge_with_required_and_granted() {
    let app = app(|b| b).await;
    let token = app.token("mcp:tools files:read");
    let response = app
        .post(
            Some(&token),
            &[("mcp-protocol-version", "2025-11-25")],
            ADMIN_RESET,
        )
        .await;
    assert_step_up(response, "mcp:tools mcp:admin files:read").await;
    // Absent version header: legacy too.
    let response = app.post(Some(&token), &[], ADMIN_RESET).await;
    assert_step_up(response, "mcp:tools mcp:admin files:read").await;
}

#[tokio::test]
async fn t11_modern_tool_call_without_its_scope_names_required_scopes_only() {
    let app = app(|b| b).await;
    let token = app.token("mcp:tools files:read");
    let response = app
        .post(Some(&token), &MODERN_ADMIN_RESET, ADMIN_RESET)
        .await;
    assert_step_up(response, "mcp:tools mcp:admin").await;
}

#[tokio::test]
async fn tool_call_with_its_scope_passes_and_the_body_arrives_unchanged() {
    let app = app(|b| b).await;
    let token = app.token("mcp:tools mcp:admin");
    for headers in [&[][..], &MODERN_ADMIN_RESET[..]] {
        let response = app.post(Some(&token), headers, ADMIN_RESET).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-had-token"], "yes");
        assert_eq!(response.text().await.unwrap(), ADMIN_RESET);
    }
    // Other tools need only the endpoint scope.
    let token = app.token("mcp:tools");
    assert_eq!(app.post(Some(&token), &[], ECHO).await.status(), 200);
}

#[tokio::test]
async fn t12_scope_hierarchy_counts_in_operation_checks() {
    let app = app(|b| b.scope_implies("mcp:admin", "mcp:tools")).await;
    let token = app.token("mcp:admin");
    assert_eq!(app.post(Some(&token), &[], ADMIN_RESET).await.status(), 200);
    assert_eq!(
        app.post(Some(&token), &MODERN_ADMIN_RESET, ADMIN_RESET)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn batch_needs_the_union_of_its_operations() {
    let app = app(|b| b.method_scope("tools/list", "mcp:list")).await;
    let token = app.token("mcp:tools");
    let batch =
        format!(r#"[{ECHO},{ADMIN_RESET},{{"jsonrpc":"2.0","id":9,"method":"tools/list"}}]"#);
    let response = app.post(Some(&token), &[], &batch).await;
    assert_step_up(response, "mcp:tools mcp:admin mcp:list").await;
    let token = app.token("mcp:tools mcp:admin mcp:list");
    let response = app.post(Some(&token), &[], &batch).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), batch);
}

#[tokio::test]
async fn mirrored_headers_are_never_trusted_on_a_legacy_request() {
    let app = app(|b| b).await;
    let token = app.token("mcp:tools");
    let lying = [
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-method", "tools/list"),
    ];
    let response = app.post(Some(&token), &lying, ADMIN_RESET).await;
    assert_step_up(response, "mcp:tools mcp:admin").await;
}

#[tokio::test]
async fn modern_names_in_base64_form_are_decoded() {
    let app = app(|b| b.tool_scope("écho", "mcp:accents")).await;
    let token = app.token("mcp:tools");
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?w6ljaG8=?="),
    ];
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"écho"}}"#;
    assert_step_up(
        app.post(Some(&token), &headers, body).await,
        "mcp:tools mcp:accents",
    )
    .await;
}

#[tokio::test]
async fn offline_access_is_never_asked_for() {
    let app = app(|b| b).await;
    let token = app.token("offline_access mcp:tools");
    let response = app.post(Some(&token), &[], ADMIN_RESET).await;
    assert_step_up(response, "mcp:tools mcp:admin").await;
}

#[tokio::test]
async fn anonymous_methods_pass_without_a_token_and_nothing_else_does() {
    let app = app(|b| b.allow_anonymous("initialize")).await;
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    let response = app.post(None, &[], initialize).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-had-token"], "no");
    assert_eq!(app.post(None, &[], ECHO).await.status(), 401);
    // A presented token is still checked.
    assert_eq!(
        app.post(Some("garbage.token.here"), &[], initialize)
            .await
            .status(),
        401
    );
    // A batch is anonymous only if every call in it is.
    let batch = format!("[{initialize},{ECHO}]");
    assert_eq!(app.post(None, &[], &batch).await.status(), 401);
}

#[tokio::test]
async fn bodies_over_the_bound_get_413() {
    let app = app(|b| b.max_body_bytes(1024)).await;
    let token = app.token("mcp:tools mcp:admin");
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{}"}}}}}}"#,
        "x".repeat(2000)
    );
    let response = app.post(Some(&token), &[], &big).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32600);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever JSON-RPC-ish body is sent (under the bound), the inner service receives exactly
    /// those bytes.
    #[test]
    fn the_inner_service_receives_exactly_the_bytes_sent(
        body in prop_oneof![
            any::<String>(),
            "\\{\"jsonrpc\":\"2.0\",\"id\":[0-9]{1,3},\"method\":\"tools/call\",\"params\":\\{\"name\":\"[a-z_]{1,12}\",\"arguments\":\\{\"text\":\"[ -~]{0,200}\"\\}\\}\\}",
            "\\[\\{\"method\":\"[a-z/]{1,20}\"\\}(,\\{\"method\":\"tools/list\"\\}){0,5}\\]",
        ],
    ) {
        let runtime = runtime();
        runtime.block_on(async {
            let app = app(|b| b).await;
            let token = app.token("mcp:tools mcp:admin");
            let response = app.post(Some(&token), &[], &body).await;
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), body);
        });
    }
}

#[tokio::test]
async fn bodies_of_unauthenticated_requests_are_not_read_unless_anonymous_methods_exist() {
    let big = format!(r#"{{"method":"tools/list","pad":"{}"}}"#, "x".repeat(4096));
    // No anonymous method: the body is never buffered, the bearer layer answers 401.
    let app_plain = app(|b| b.max_body_bytes(1024)).await;
    assert_eq!(app_plain.post(None, &[], &big).await.status(), 401);
    // With an anonymous method the body must be read to decide, so the bound applies.
    let app_anon = app(|b| b.max_body_bytes(1024).allow_anonymous("initialize")).await;
    assert_eq!(app_anon.post(None, &[], &big).await.status(), 413);
}
