//! The layer in front of real servers, through the public API only: an axum router with several
//! routes, an rmcp `StreamableHttpService` reached by the rmcp client, and a plain hyper 1
//! server running a `tower::service_fn`. Every server listens on 127.0.0.1:0.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use mcp_server_auth::challenge::ParsedChallenge;
use mcp_server_auth::{McpAuth, McpAuthBuilder, VerifiedToken};
use mcp_server_auth_dev::testing::TestIssuer;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::ClientInitializeError;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use tower::{ServiceBuilder, service_fn};

/// The configuration every server here starts from: the test issuer, `mcp:tools` required,
/// `http://127.0.0.1` allowed.
fn configure(resource: &str, issuer: &TestIssuer) -> McpAuthBuilder {
    McpAuth::builder(resource)
        .issuer(issuer.issuer(), issuer.keys())
        .require_scope("mcp:tools")
        .allow_http_loopback(true)
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Parses the one `WWW-Authenticate` header of a response.
fn challenge_of(headers: &http::HeaderMap) -> ParsedChallenge {
    let values: Vec<_> = headers.get_all(header::WWW_AUTHENTICATE).iter().collect();
    assert_eq!(values.len(), 1, "exactly one WWW-Authenticate header");
    ParsedChallenge::parse(values[0].to_str().unwrap()).expect("well-formed challenge")
}

// ---------------------------------------------------------------------------------------------
// axum
// ---------------------------------------------------------------------------------------------

async fn axum_who(token: VerifiedToken) -> axum::Json<Value> {
    axum::Json(json!({ "sub": token.subject() }))
}

#[tokio::test]
async fn axum_router_with_several_routes_is_protected_everywhere_but_the_metadata() {
    let (listener, addr) = bind().await;
    let resource = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = configure(&resource, &issuer).build().unwrap();
    let app = Router::new()
        .route("/mcp", post(axum_who).get(axum_who).delete(axum_who))
        .route("/health", get(axum_who))
        .route("/api/items/{id}", get(axum_who).delete(axum_who))
        .nest("/admin", Router::new().route("/stats", get(axum_who)))
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = common::client();
    let url = |path: &str| format!("http://{addr}{path}");
    let token = issuer
        .token()
        .audience(resource.clone())
        .subject("axum-user")
        .scope("mcp:tools")
        .sign();

    let routes = [
        (Method::POST, "/mcp"),
        (Method::GET, "/mcp"),
        (Method::DELETE, "/mcp"),
        (Method::GET, "/health"),
        (Method::GET, "/api/items/42"),
        (Method::DELETE, "/api/items/42"),
        (Method::GET, "/admin/stats"),
    ];
    for (method, path) in &routes {
        let response = client
            .request(method.clone(), url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method} {path} without a token");
        let challenge = challenge_of(response.headers());
        assert_eq!(
            challenge.get("resource_metadata"),
            Some(auth.metadata_url()),
            "{method} {path}"
        );
        assert_eq!(
            challenge.get("error"),
            None,
            "{method} {path}: no error code"
        );

        let response = client
            .request(method.clone(), url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method} {path} with a token");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sub"], "axum-user", "{method} {path}");
    }

    // Paths no route matches are protected too (the layer wraps the fallback), including
    // near-misses of the metadata path; with a token they reach the router's 404.
    for path in [
        "/nope",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp/extra",
        "/.well-known/oauth-protected-resource/MCP",
    ] {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "GET {path} without a token");
        let response = client
            .get(url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "GET {path} with a token");
    }

    // The metadata is public: GET, with or without (even bogus) credentials.
    let metadata_url = auth.metadata_url();
    assert_eq!(
        metadata_url,
        format!("http://{addr}/.well-known/oauth-protected-resource/mcp")
    );
    for authorization in [None, Some("Bearer not-a-jwt"), Some("Basic dXNlcjpwYXNz")] {
        let mut request = client.get(metadata_url);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "GET metadata with {authorization:?}"
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
        let raw = response.text().await.unwrap();
        let document: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(document["resource"].as_str(), Some(resource.as_str()));
        assert_eq!(document["authorization_servers"], json!([common::ISSUER]));
        // Byte-equal on the wire, not merely equal after parsing.
        assert!(
            raw.contains(&format!(r#""resource":"{resource}""#)),
            "raw document: {raw}"
        );
    }

    let response = client.head(metadata_url).send().await.unwrap();
    assert_eq!(response.status(), 200, "HEAD metadata");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "HEAD has no body"
    );

    let response = client
        .request(Method::OPTIONS, metadata_url)
        .header(header::ORIGIN, "https://inspector.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "OPTIONS metadata");
    assert_eq!(response.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");

    let response = client.post(metadata_url).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 405, "POST metadata");
    let allow: BTreeSet<&str> = response.headers()[header::ALLOW]
        .to_str()
        .unwrap()
        .split(',')
        .map(str::trim)
        .collect();
    assert_eq!(allow, BTreeSet::from(["GET", "HEAD", "OPTIONS"]));
    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
}

// ---------------------------------------------------------------------------------------------
// rmcp: StreamableHttpService (default config: sessions, SSE) and the rmcp client
// ---------------------------------------------------------------------------------------------

/// An MCP server whose tools report what they see of the HTTP request.
#[derive(Clone)]
struct Probe {
    tool_router: ToolRouter<Self>,
}

fn token_in(parts: &Parts) -> Result<&VerifiedToken, ErrorData> {
    parts
        .extensions
        .get::<VerifiedToken>()
        .ok_or_else(|| ErrorData::internal_error("no VerifiedToken in the request", None))
}

fn json_result(value: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(value.to_string())])
}

#[tool_router]
impl Probe {
    fn new() -> Self {
        Probe {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "The verified token's identity")]
    async fn whoami(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let token = token_in(&parts)?;
        Ok(json_result(&json!({
            "sub": token.subject(),
            "client_id": token.client_id(),
            "iss": token.issuer(),
            "scopes": token.scopes(),
        })))
    }

    /// Reports header *names* and whether `Authorization` is present, never its value.
    #[tool(description = "What the tool sees of the HTTP request headers")]
    async fn request_headers(
        &self,
        Extension(parts): Extension<Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let names: Vec<&str> = parts.headers.keys().map(http::HeaderName::as_str).collect();
        Ok(json_result(&json!({
            "authorization_present": parts.headers.contains_key(header::AUTHORIZATION),
            "header_names": names,
            "verified_token_present": parts.extensions.get::<VerifiedToken>().is_some(),
        })))
    }
}

#[tool_handler(router = self.tool_router, name = "probe", version = "0.0.0")]
impl ServerHandler for Probe {}

struct RmcpServer {
    url: String,
    resource: String,
    metadata_url: String,
    issuer: TestIssuer,
}

impl RmcpServer {
    fn token(&self, subject: &str, scope: &str) -> String {
        self.issuer
            .token()
            .audience(self.resource.clone())
            .subject(subject)
            .scope(scope)
            .sign()
    }
}

/// rmcp's `StreamableHttpService` with its default configuration (stateful sessions, SSE
/// responses) nested at `/mcp`, behind `auth.layer()`.
async fn start_rmcp(extra: impl FnOnce(McpAuthBuilder) -> McpAuthBuilder) -> RmcpServer {
    let (listener, addr) = bind().await;
    let resource = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = extra(configure(&resource, &issuer)).build().unwrap();
    let mcp = StreamableHttpService::new(
        || Ok(Probe::new()),
        LocalSessionManager::default().into(),
        StreamableHttpServerConfig::default(),
    );
    let app = Router::new().nest_service("/mcp", mcp).layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    RmcpServer {
        url: resource.clone(),
        metadata_url: auth.metadata_url().to_owned(),
        resource,
        issuer,
    }
}

fn rmcp_transport(
    url: &str,
    token: Option<&str>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = token {
        config = config.auth_header(token.to_owned());
    }
    StreamableHttpClientTransport::with_client(common::client(), config)
}

/// The JSON in the single text block of a tool result.
fn result_json(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "tool error: {result:?}");
    assert_eq!(result.content.len(), 1, "one content block");
    let text = &result.content[0].as_text().expect("a text block").text;
    serde_json::from_str(text).unwrap()
}

/// The HTTP-level error behind a failed rmcp client initialization.
fn http_error(error: &ClientInitializeError) -> &StreamableHttpError<reqwest::Error> {
    let ClientInitializeError::TransportError { error, .. } = error else {
        panic!("expected a transport error, got {error:?}");
    };
    error
        .error
        .downcast_ref::<StreamableHttpError<reqwest::Error>>()
        .unwrap_or_else(|| panic!("expected a StreamableHttpError, got {error:?}"))
}

async fn rmcp_connect_err(url: &str, token: Option<&str>) -> ClientInitializeError {
    match ().serve(rmcp_transport(url, token)).await {
        Ok(_) => panic!("initialization succeeded with token {:?}", token.is_some()),
        Err(error) => error,
    }
}

#[tokio::test]
async fn rmcp_client_with_token_lists_tools_and_whoami_returns_the_subject() {
    let server = start_rmcp(|b| b).await;
    let token = server.token("rmcp-user-7", "mcp:tools extra:read");
    let client = ().serve(rmcp_transport(&server.url, Some(&token))).await.unwrap();

    let tools = client.list_tools(None).await.unwrap();
    let names: BTreeSet<&str> = tools.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, BTreeSet::from(["request_headers", "whoami"]));

    let result = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    let identity = result_json(&result);
    assert_eq!(identity["sub"], "rmcp-user-7");
    assert_eq!(identity["iss"], common::ISSUER);
    assert_eq!(identity["client_id"], "test-client");
    assert_eq!(identity["scopes"], json!(["mcp:tools", "extra:read"]));

    // The default config is stateful: these calls went through the layer inside a session.
    let result = client
        .call_tool(CallToolRequestParams::new("request_headers"))
        .await
        .unwrap();
    let seen = result_json(&result);
    let names = seen["header_names"].as_array().unwrap();
    assert!(
        names.contains(&json!("mcp-session-id")),
        "headers: {names:?}"
    );

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rmcp_client_without_token_fails_with_auth_required_naming_the_metadata() {
    let server = start_rmcp(|b| b).await;
    let error = rmcp_connect_err(&server.url, None).await;
    assert!(error.is_authorization_required(), "{error:?}");
    let StreamableHttpError::AuthRequired(required) = http_error(&error) else {
        panic!("expected AuthRequired, got {error:?}");
    };
    let header = &required.www_authenticate_header;
    assert!(
        header.contains(&format!(r#"resource_metadata="{}""#, server.metadata_url)),
        "challenge: {header}"
    );
    let challenge = ParsedChallenge::parse(header).unwrap();
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    assert_eq!(challenge.get("scope"), Some("mcp:tools"));
    assert_eq!(challenge.get("error"), None);
}

#[tokio::test]
async fn rmcp_client_with_a_foreign_token_fails_with_auth_required_invalid_token() {
    let server = start_rmcp(|b| b).await;
    // Right issuer name and audience, wrong key.
    let forger = TestIssuer::new(common::ISSUER);
    let token = forger
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    let error = rmcp_connect_err(&server.url, Some(&token)).await;
    let StreamableHttpError::AuthRequired(required) = http_error(&error) else {
        panic!("expected AuthRequired, got {error:?}");
    };
    let challenge = ParsedChallenge::parse(&required.www_authenticate_header).unwrap();
    assert_eq!(challenge.get("error"), Some("invalid_token"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
}

#[tokio::test]
async fn rmcp_client_with_a_token_lacking_the_scope_fails_with_insufficient_scope() {
    let server = start_rmcp(|b| b).await;
    let token = server.token("rmcp-user-7", "other:scope");
    let error = rmcp_connect_err(&server.url, Some(&token)).await;
    let StreamableHttpError::InsufficientScope(insufficient) = http_error(&error) else {
        panic!("expected InsufficientScope, got {error:?}");
    };
    assert_eq!(insufficient.get_required_scope(), Some("mcp:tools"));
    let challenge = ParsedChallenge::parse(&insufficient.www_authenticate_header).unwrap();
    assert_eq!(challenge.get("error"), Some("insufficient_scope"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
}

#[tokio::test]
async fn rmcp_tool_does_not_see_the_authorization_header() {
    async fn seen_by_tool(server: &RmcpServer) -> Value {
        let token = server.token("rmcp-user-7", "mcp:tools");
        let client = ().serve(rmcp_transport(&server.url, Some(&token))).await.unwrap();
        let result = client
            .call_tool(CallToolRequestParams::new("request_headers"))
            .await
            .unwrap();
        client.cancel().await.unwrap();
        result_json(&result)
    }

    let server = start_rmcp(|b| b).await;
    let seen = seen_by_tool(&server).await;
    assert_eq!(seen["authorization_present"], false, "{seen}");
    assert_eq!(seen["verified_token_present"], true, "{seen}");
    let names = seen["header_names"].as_array().unwrap();
    assert!(
        !names.contains(&json!("authorization")),
        "headers: {names:?}"
    );
    // The tool does see the request's other headers.
    assert!(names.contains(&json!("host")), "headers: {names:?}");

    // Control: the same probe reports the header when the layer is told to keep it.
    let server = start_rmcp(|b| b.keep_authorization_header(true)).await;
    let seen = seen_by_tool(&server).await;
    assert_eq!(seen["authorization_present"], true, "{seen}");
    assert_eq!(seen["verified_token_present"], true, "{seen}");
}

// ---------------------------------------------------------------------------------------------
// plain hyper 1 + tower::service_fn
// ---------------------------------------------------------------------------------------------

/// Generic over the body: behind the layer a hyper `Incoming` arrives as
/// `mcp_server_auth::operation::RequestBody<Incoming>`.
async fn hyper_handler<B>(request: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    let token = request.extensions().get::<VerifiedToken>();
    let body = json!({
        "path": request.uri().path(),
        "sub": token.and_then(VerifiedToken::subject),
        "authorization_header_seen": request.headers().contains_key(header::AUTHORIZATION),
    });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

struct HyperServer {
    addr: SocketAddr,
    resource: String,
    metadata_url: String,
    issuer: TestIssuer,
}

/// A hyper 1 HTTP/1 server, one task per connection, serving
/// `ServiceBuilder::new().layer(auth.layer()).service(service_fn(..))`.
async fn start_hyper() -> HyperServer {
    let (listener, addr) = bind().await;
    let resource = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = configure(&resource, &issuer).build().unwrap();
    let service = ServiceBuilder::new()
        .layer(auth.layer())
        .service(service_fn(hyper_handler));
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    HyperServer {
        addr,
        metadata_url: auth.metadata_url().to_owned(),
        resource,
        issuer,
    }
}

/// Sends a request with the hyper client and returns its head and whole body.
async fn hyper_send(
    method: Method,
    url: &str,
    authorization: Option<&str>,
) -> (http::response::Parts, Bytes) {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    (parts, body.collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn hyper_service_fn_behind_the_layer_requires_a_valid_token() {
    let server = start_hyper().await;
    let mcp = format!("http://{}/mcp", server.addr);

    // No token: 401, challenge naming the metadata, and the handler never ran.
    let (head, body) = hyper_send(Method::POST, &mcp, None).await;
    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&head.headers);
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );
    assert_eq!(challenge.get("scope"), Some("mcp:tools"));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body.get("path").is_none(), "handler output leaked: {body}");

    // A token for another resource: 401 invalid_token.
    let elsewhere = server
        .issuer
        .token()
        .audience("https://other.example/mcp")
        .scope("mcp:tools")
        .sign();
    let (head, _) = hyper_send(Method::POST, &mcp, Some(&format!("Bearer {elsewhere}"))).await;
    assert_eq!(head.status, StatusCode::UNAUTHORIZED);
    let challenge = challenge_of(&head.headers);
    assert_eq!(challenge.get("error"), Some("invalid_token"));
    assert_eq!(
        challenge.get("resource_metadata"),
        Some(server.metadata_url.as_str())
    );

    // A valid token: 200 from the handler, which sees the identity but not the header.
    let token = server
        .issuer
        .token()
        .audience(server.resource.clone())
        .subject("hyper-user")
        .scope("mcp:tools")
        .sign();
    for path in ["/mcp", "/anything/else"] {
        let url = format!("http://{}{path}", server.addr);
        let (head, body) = hyper_send(Method::POST, &url, Some(&format!("Bearer {token}"))).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.headers.get(header::WWW_AUTHENTICATE).is_none());
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            json!({"path": path, "sub": "hyper-user", "authorization_header_seen": false})
        );
    }
}

#[tokio::test]
async fn hyper_service_fn_behind_the_layer_serves_the_metadata() {
    let server = start_hyper().await;
    assert_eq!(
        server.metadata_url,
        format!(
            "http://{}/.well-known/oauth-protected-resource/mcp",
            server.addr
        )
    );

    let (head, body) = hyper_send(Method::GET, &server.metadata_url, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.headers[header::CONTENT_TYPE], "application/json");
    let document: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        document["resource"].as_str(),
        Some(server.resource.as_str())
    );
    assert_eq!(document["authorization_servers"], json!([common::ISSUER]));
    assert_eq!(document["scopes_supported"], json!(["mcp:tools"]));
    assert_eq!(document["bearer_methods_supported"], json!(["header"]));

    let (head, body) = hyper_send(Method::HEAD, &server.metadata_url, None).await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(body.is_empty());

    let (head, _) = hyper_send(Method::DELETE, &server.metadata_url, None).await;
    assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(head.headers.contains_key(header::ALLOW));
}

// ---------------------------------------------------------------------------------------------
// Connection reuse after a rejection
// ---------------------------------------------------------------------------------------------

/// Reads from `stream` until a whole response head (`\r\n\r\n`) has arrived; `None` at EOF.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut byte)).await
        {
            Ok(Ok(1)) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A client that sends a request's headers, then its body a moment later (as Python's httpx
/// does), and reuses the connection after the 401, as every OAuth client does for its retry:
/// the connection must either carry the next request or have been announced as closing
/// (`Connection: close`), never drop the next request silently.
#[tokio::test]
async fn a_rejected_request_whose_body_arrives_late_never_leaves_a_dead_keep_alive_connection() {
    use tokio::io::AsyncWriteExt;

    let (listener, addr) = bind().await;
    let resource = format!("http://{addr}/mcp");
    let issuer = TestIssuer::new(common::ISSUER);
    let auth = configure(&resource, &issuer).build().unwrap();
    let app = Router::new()
        .route("/mcp", post(axum_who))
        .layer(auth.layer());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    for round in 0..5 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let response = read_head(&mut stream)
            .await
            .expect("a response to the first request");
        assert!(response.starts_with("HTTP/1.1 401"), "{response}");
        // The 401 carries a small JSON body; skip it by its length.
        let length: usize = response
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        let mut rest = vec![0u8; length];
        tokio::io::AsyncReadExt::read_exact(&mut stream, &mut rest)
            .await
            .unwrap();
        let closing = response.to_ascii_lowercase().contains("connection: close");

        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // The late body, then the next request on the same connection.
        let next = format!(
            "GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {addr}\r\n\r\n"
        );
        let sent = async {
            stream.write_all(body.as_bytes()).await?;
            stream.write_all(next.as_bytes()).await
        }
        .await;
        let second = match sent {
            Ok(()) => read_head(&mut stream).await,
            Err(_) => None,
        };
        match second {
            Some(second) => assert!(
                second.starts_with("HTTP/1.1 200"),
                "round {round}: {second}"
            ),
            None => assert!(
                closing,
                "round {round}: the connection died under the next request without \
                 `Connection: close` on the 401"
            ),
        }
    }

    // A rejected request without a body leaves nothing unread: the connection stays open.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let two = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n\
         GET /.well-known/oauth-protected-resource/mcp HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    stream.write_all(two.as_bytes()).await.unwrap();
    let first = read_head(&mut stream).await.unwrap();
    assert!(first.starts_with("HTTP/1.1 401"), "{first}");
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    let length: usize = first
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap();
    let mut rest = vec![0u8; length];
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut rest)
        .await
        .unwrap();
    let second = read_head(&mut stream).await.unwrap();
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

/// The root copy of the metadata is opt-in: off, the root well-known path is just another
/// protected path (401); on, it serves the same document. The challenges keep naming the
/// path-inserted URL either way.
#[tokio::test]
async fn the_root_metadata_copy_is_served_only_when_asked_for() {
    for root in [false, true] {
        let issuer = TestIssuer::new(common::ISSUER);
        let (listener, addr) = bind().await;
        let resource = format!("http://{addr}/mcp");
        let auth = configure(&resource, &issuer)
            .root_metadata(root)
            .build()
            .unwrap();
        let app = Router::new()
            .route("/mcp", post(axum_who))
            .layer(auth.layer());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let client = common::client();
        let response = client
            .get(format!(
                "http://{addr}/.well-known/oauth-protected-resource"
            ))
            .send()
            .await
            .unwrap();
        if root {
            assert_eq!(response.status(), 200);
            let document: Value = response.json().await.unwrap();
            assert_eq!(document["resource"], resource);
        } else {
            assert_eq!(response.status(), 401);
        }
        let response = client.post(&resource).send().await.unwrap();
        assert_eq!(
            challenge_of(response.headers()).get("resource_metadata"),
            Some(format!("http://{addr}/.well-known/oauth-protected-resource/mcp").as_str())
        );
    }
}
