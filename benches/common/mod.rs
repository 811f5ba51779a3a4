//! What the benchmarks share: a no-op MCP service, a client's request, and the layer built
//! around them.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::Full;
use mcp_server_auth::McpAuth;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth_dev::testing::TestIssuer;
use tower::Service;

pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const ISSUER: &str = "https://auth.example.com";
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;

/// The inner service: answers at once, whatever the request.
#[derive(Clone, Copy)]
pub struct Noop;

impl<B> Service<Request<B>> for Noop {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<B>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"{}")))))
    }
}

/// Drives one request through `service`; every future in the stack is ready at once.
pub fn call<S, B>(service: &mut S, request: Request<Full<Bytes>>) -> Response<B>
where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let mut cx = Context::from_waker(Waker::noop());
    assert!(service.poll_ready(&mut cx).is_ready());
    let mut future = pin!(service.call(request));
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(response) => response.unwrap(),
        Poll::Pending => panic!("the stack should answer without waiting"),
    }
}

/// An MCP `tools/list` request as a client sends it.
pub fn request(authorization: &HeaderValue) -> Request<Full<Bytes>> {
    Request::post("/mcp")
        .header(header::HOST, "mcp.example.com")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .header(header::AUTHORIZATION, authorization.clone())
        .body(Full::new(Bytes::from_static(BODY.as_bytes())))
        .unwrap()
}

/// An offline issuer for `alg`, one of its tokens for our resource, and that token as an
/// `Authorization` value.
pub fn issuer_and_token(alg: Algorithm) -> (TestIssuer, String, HeaderValue) {
    let issuer = TestIssuer::with_algorithm(ISSUER, alg);
    let token = issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .client_id("bench-client")
        .sign();
    let authorization = HeaderValue::try_from(format!("Bearer {token}")).unwrap();
    (issuer, token, authorization)
}

/// The layer's configuration for these benchmarks.
pub fn auth(issuer: &TestIssuer, cache: TokenCacheConfig) -> McpAuth {
    McpAuth::builder(RESOURCE)
        .issuer(ISSUER, issuer.keys())
        .require_scope("mcp:tools")
        .token_cache(cache)
        .build()
        .unwrap()
}

/// The issuer's public key parsed straight into aws-lc-rs, independently of our key code.
pub fn floor_key(issuer: &TestIssuer) -> ParsedPublicKey {
    let jwk = issuer.jwk();
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match issuer.algorithm() {
        Algorithm::ES256 => {
            let mut point = vec![0x04];
            point.extend(field("x"));
            point.extend(field("y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        Algorithm::RS256 => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap(),
        Algorithm::EdDSA => ParsedPublicKey::new(&signature::ED25519, field("x")).unwrap(),
        other => panic!("no floor for {other}"),
    }
}

pub fn jsonwebtoken_reference(
    issuer: &TestIssuer,
) -> (jsonwebtoken::DecodingKey, jsonwebtoken::Validation) {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(issuer.jwk()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    let alg = match issuer.algorithm() {
        Algorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        Algorithm::RS256 => jsonwebtoken::Algorithm::RS256,
        Algorithm::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        other => panic!("no reference for {other}"),
    };
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_audience(&[RESOURCE]);
    validation.set_issuer(&[ISSUER]);
    (key, validation)
}
