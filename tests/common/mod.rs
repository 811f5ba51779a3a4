//! Shared harness for the integration tests: a real axum server on 127.0.0.1:0 guarded by the
//! layer, a test issuer, and helpers to read challenges the way clients do.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::net::SocketAddr;

use axum::Router;
use axum::routing::post;
use mcp_server_auth::challenge::ParsedChallenge;
use mcp_server_auth::{McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::TestIssuer;
use serde_json::{Value, json};
pub mod introspection_server;

pub const ISSUER: &str = "https://auth.example.com";

/// A running server: the resource is `http://127.0.0.1:<port>/mcp`.
pub struct Server {
    pub addr: SocketAddr,
    pub resource: String,
    pub metadata_url: String,
    pub issuer: TestIssuer,
    /// The configuration the server runs with, to ask its validator directly.
    pub auth: McpAuth,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn mcp(&self) -> String {
        self.url("/mcp")
    }

    /// What the validator says of `token` right now.
    pub fn reason(&self, token: &str) -> Result<(), mcp_server_auth::validate::TokenErrorKind> {
        self.auth
            .validator()
            .validate(token, mcp_server_auth_dev::testing::unix_now())
            .map(|_| ())
            .map_err(|e| e.kind())
    }

    /// A token accepted by default: right issuer, audience and scope.
    pub fn token(&self) -> String {
        self.token_builder().sign()
    }

    /// The builder of [`Server::token`], to change one thing before signing.
    pub fn token_builder(&self) -> mcp_server_auth_dev::testing::TokenBuilder<'_> {
        self.issuer
            .token()
            .audience(self.resource.clone())
            .scope("mcp:tools")
    }
}

/// Starts a server whose `/mcp` (POST) echoes what the handler saw: the verified token's
/// fields, and whether the `Authorization` header reached it. `configure` adjusts the
/// builder, which starts with the test issuer, `require_scope("mcp:tools")` and
/// `allow_http_loopback(true)`.
pub async fn start(configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> Server {
    start_with_issuer(TestIssuer::new(ISSUER), configure).await
}

pub async fn start_with_issuer(
    issuer: TestIssuer,
    configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder,
) -> Server {
    let keys = issuer.keys();
    start_with_keys(issuer, keys, configure).await
}

async fn echo_identity(
    token: Option<VerifiedToken>,
    headers: http::HeaderMap,
) -> axum::Json<Value> {
    axum::Json(json!({
        "authorization_header_seen": headers.contains_key(http::header::AUTHORIZATION),
        "verified": token.map(|t| json!({
            "iss": t.issuer(),
            "sub": t.subject(),
            "client_id": t.client_id(),
            "scopes": t.scopes(),
            "aud": t.audience(),
        })),
    }))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// POSTs an `initialize`-like JSON-RPC body to `/mcp` with the given `Authorization` value.
pub async fn post_mcp(server: &Server, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client()
        .post(server.mcp())
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    request.send().await.unwrap()
}

pub async fn post_token(server: &Server, token: &str) -> reqwest::Response {
    post_mcp(server, Some(&format!("Bearer {token}"))).await
}

/// Reads the single `WWW-Authenticate` header, checks it is one line with `Bearer` first,
/// parses it, and checks the official TypeScript client's regex reads the same values.
pub fn challenge(response: &reqwest::Response) -> ParsedChallenge {
    let values: Vec<_> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .collect();
    assert_eq!(values.len(), 1, "exactly one WWW-Authenticate header");
    let text = values[0].to_str().expect("printable ASCII challenge");
    assert!(!text.contains(['\r', '\n']), "one line: {text}");
    assert!(text.starts_with("Bearer "), "Bearer first: {text}");
    let parsed = ParsedChallenge::parse(text).expect("well-formed challenge");
    for (name, value) in parsed.params() {
        assert!(
            !value.contains(['"', '\\']),
            "no quote or backslash in {name}"
        );
        assert_eq!(
            ts_client_field(text, name).as_deref(),
            Some(value.as_str()),
            "TypeScript client reads {name} the same"
        );
    }
    parsed
}

/// The official TypeScript SDK client's extraction: `${field}=(?:"([^"]+)"|([^\s,]+))`.
pub fn ts_client_field(header: &str, field: &str) -> Option<String> {
    let (scheme, _) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let pattern = regex::Regex::new(&format!(r#"{field}=(?:"([^"]+)"|([^\s,]+))"#)).unwrap();
    let captures = pattern.captures(header)?;
    captures
        .get(1)
        .or_else(|| captures.get(2))
        .map(|m| m.as_str().to_owned())
}

/// Asserts a 401 `invalid_token` with a well-formed challenge naming the metadata URL.
pub async fn assert_invalid_token(server: &Server, token: &str) {
    let response = post_token(server, token).await;
    assert_eq!(response.status(), 401, "status");
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), Some("invalid_token"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Like [`start_with_issuer`], but the issuer's tokens are verified with `keys` instead of the
/// issuer's own key set (for key documents that mark, drop or add keys).
pub async fn start_with_keys(
    issuer: TestIssuer,
    keys: mcp_server_auth::keys::StaticKeys,
    configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder,
) -> Server {
    let (listener, resource) = bind().await;
    let builder = McpAuth::builder(resource.clone())
        .issuer(issuer.issuer(), keys)
        .require_scope("mcp:tools")
        .allow_http_loopback(true);
    let auth = configure(builder).build().unwrap();
    let metadata_url = auth.metadata_url().to_owned();
    let addr = listener.local_addr().unwrap();
    serve(listener, &auth);
    Server {
        addr,
        resource,
        metadata_url,
        issuer,
        auth,
    }
}

/// A server guarded by an `McpAuth` built by `configure` (which starts with
/// `require_scope("mcp:tools")` and `allow_http_loopback(true)`), at `url`, its resource URI.
/// Test files add the requests they need in `impl App` blocks of their own.
pub struct App {
    pub url: String,
    pub resource: String,
    pub auth: McpAuth,
}

/// Starts an [`App`].
pub async fn app(configure: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> App {
    let (listener, resource) = bind().await;
    let auth = configure(
        McpAuth::builder(resource.clone())
            .require_scope("mcp:tools")
            .allow_http_loopback(true),
    )
    .build()
    .unwrap();
    serve(listener, &auth);
    App {
        url: resource.clone(),
        resource,
        auth,
    }
}

/// A listener on 127.0.0.1:0 and the resource URI it will serve.
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    (listener, resource)
}

/// Serves `/mcp` (echoing what the handler saw) behind `auth.layer()` on `listener`.
pub fn serve(listener: tokio::net::TcpListener, auth: &McpAuth) {
    let app = Router::new()
        .route(
            "/mcp",
            post(echo_identity).get(echo_identity).delete(echo_identity),
        )
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// A DER INTEGER holding the unsigned big-endian `value`.
pub fn der_integer(value: &[u8]) -> Vec<u8> {
    let first = value
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(value.len() - 1);
    let mut body = value[first..].to_vec();
    if body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    let mut out = vec![0x02, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

/// The ASN.1 DER form (`SEQUENCE { r INTEGER, s INTEGER }`) of a fixed-width `r || s` ECDSA
/// signature.
pub fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let mut body = der_integer(r);
    body.extend(der_integer(s));
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

/// A loopback server publishing the attacker's key as a JWKS (`/jwks.json`) and as PEM
/// (`/cert.pem`), counting every request it gets.
pub async fn serve_attacker_keys(
    attacker: &TestIssuer,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let jwks = attacker.jwks();
    let pem = attacker.public_key_pem();
    let counter = std::sync::Arc::clone(&hits);
    let app = axum::Router::new().fallback(move |uri: http::Uri| {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body = if uri.path().ends_with(".pem") {
            pem.clone()
        } else {
            jwks.clone()
        };
        async move { body }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}
