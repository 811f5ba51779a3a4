//! Bring your own client: key discovery, key fetching and token introspection through a
//! `Fetch` of the user's own (hyper's client here), against a real loopback authorization
//! server (hyper's server: metadata, JWKS, introspection).
//!
//! The file needs neither reqwest nor the development crate: `.ci/run` also runs it from
//! `tests/own_client`, a build of the crate with `remote` and without `reqwest`, where the
//! built-in client is absent and a source given no client must be refused at build time.
#![cfg(feature = "remote")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use mcp_server_auth::McpAuth;
use mcp_server_auth::fetch::{
    Fetch, FetchError, FetchFuture, FetchRequest, FetchResponse, FormPost,
};
use mcp_server_auth::introspect::Introspection;
use mcp_server_auth::keys::RemoteJwks;
use serde_json::json;

const RESOURCE: &str = "http://127.0.0.1:9/mcp";
const CLIENT_ID: &str = "resource-server";
const CLIENT_SECRET: &str = "resource-server-secret";
const OPAQUE_TOKEN: &str = "opaque-token-of-the-test";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A user's own client: hyper's, over plain TCP (the authorization server is on loopback),
/// keeping the `Fetch` contract (no redirects, bounded in time and size) and counting calls.
#[derive(Debug, Clone)]
struct HyperFetch {
    client: Client<HttpConnector, Full<Bytes>>,
    calls: Arc<AtomicUsize>,
}

impl HyperFetch {
    fn new() -> Self {
        HyperFetch {
            client: Client::builder(TokioExecutor::new()).build_http(),
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn send(
        &self,
        request: Request<Full<Bytes>>,
        timeout: std::time::Duration,
        max_bytes: usize,
    ) -> FetchFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let client = self.client.clone();
        Box::pin(async move {
            let exchange = async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|e| FetchError::Transport(e.to_string()))?;
                let status = response.status().as_u16();
                let cache_control = response
                    .headers()
                    .get(http::header::CACHE_CONTROL)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = Limited::new(response.into_body(), max_bytes)
                    .collect()
                    .await
                    .map_err(|_| FetchError::TooLarge)?
                    .to_bytes();
                let mut answer = FetchResponse::new(status, body);
                if let Some(value) = cache_control {
                    answer = answer.cache_control(value);
                }
                Ok(answer)
            };
            tokio::time::timeout(timeout, exchange)
                .await
                .unwrap_or(Err(FetchError::Timeout))
        })
    }
}

impl Fetch for HyperFetch {
    fn get(&self, request: FetchRequest) -> FetchFuture {
        let sent = Request::get(&request.url)
            .header(http::header::ACCEPT, "application/json")
            .body(Full::default())
            .unwrap();
        self.send(sent, request.timeout, request.max_bytes)
    }

    fn post_form(&self, request: FormPost) -> FetchFuture {
        let mut sent = Request::post(&request.url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        if let Some(authorization) = &request.authorization {
            sent = sent.header(http::header::AUTHORIZATION, authorization);
        }
        let sent = sent.body(Full::new(Bytes::from(request.body))).unwrap();
        self.send(sent, request.timeout, request.max_bytes)
    }
}

/// An authorization server on loopback: RFC 8414 metadata, a JWKS with one ES256 key, and an
/// introspection endpoint that knows [`OPAQUE_TOKEN`] (for [`CLIENT_ID`] with HTTP Basic).
struct AuthorizationServer {
    issuer: String,
    key: Arc<EcdsaKeyPair>,
}

impl AuthorizationServer {
    async fn start() -> AuthorizationServer {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let key = Arc::new(key);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}");
        let jwks = jwks(&key);
        let served = issuer.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (issuer, jwks) = (served.clone(), jwks.clone());
                let service = hyper::service::service_fn(move |request| {
                    let (issuer, jwks) = (issuer.clone(), jwks.clone());
                    async move { Ok::<_, Infallible>(answer(request, &issuer, &jwks).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        AuthorizationServer { issuer, key }
    }

    /// An RFC 9068 access token for the resource.
    fn token(&self) -> String {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": "k1"});
        let claims = json!({
            "iss": self.issuer,
            "sub": "user-1",
            "aud": RESOURCE,
            "client_id": "client-1",
            "iat": now(),
            "exp": now() + 600,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

fn jwks(key: &EcdsaKeyPair) -> String {
    // An uncompressed P-256 point: 0x04, x, y.
    let point = key.public_key().as_ref();
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    }]})
    .to_string()
}

async fn answer(request: Request<Incoming>, issuer: &str, jwks: &str) -> Response<Full<Bytes>> {
    let json = |body: String| {
        Response::builder()
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    match (request.method().as_str(), request.uri().path()) {
        ("GET", "/.well-known/oauth-authorization-server") => json(
            json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/jwks"),
                "introspection_endpoint": format!("{issuer}/introspect"),
            })
            .to_string(),
        ),
        ("GET", "/jwks") => json(jwks.to_owned()),
        ("POST", "/introspect") => {
            let basic = format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            let authorized = request
                .headers()
                .get(http::header::AUTHORIZATION)
                .is_some_and(|v| v.as_bytes() == basic.as_bytes());
            let form = request.into_body().collect().await.unwrap().to_bytes();
            let known = form
                .split(|b| *b == b'&')
                .any(|pair| pair == format!("token={OPAQUE_TOKEN}").as_bytes());
            let answer = if authorized && known {
                json!({
                    "active": true, "iss": issuer, "sub": "user-2", "aud": RESOURCE,
                    "client_id": "client-2", "exp": now() + 600, "token_type": "Bearer",
                })
            } else {
                json!({"active": false})
            };
            json(answer.to_string())
        }
        _ => Response::builder()
            .status(404)
            .body(Full::default())
            .unwrap(),
    }
}

#[tokio::test]
async fn discovered_keys_are_fetched_through_the_given_client() {
    let server = AuthorizationServer::start().await;
    let fetcher = HyperFetch::new();
    let auth = McpAuth::builder(RESOURCE)
        .allow_http_loopback(true)
        .authorization_server(&server.issuer)
        .fetcher(fetcher.clone())
        .build()
        .unwrap();

    let verified = auth
        .validator()
        .validate_async(&server.token(), now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-1"));
    // The metadata document, then the key set.
    assert_eq!(fetcher.calls(), 2);
}

#[tokio::test]
async fn remote_jwks_fetches_through_the_given_client() {
    let server = AuthorizationServer::start().await;
    let fetcher = HyperFetch::new();
    let keys = RemoteJwks::builder(&server.issuer)
        .allow_http_loopback(true)
        .jwks_uri(format!("{}/jwks", server.issuer))
        .fetcher(fetcher.clone())
        .build()
        .unwrap();
    keys.prefetch().await.unwrap();
    assert!(keys.is_ready());
    assert_eq!(fetcher.calls(), 1);

    let auth = McpAuth::builder(RESOURCE)
        .allow_http_loopback(true)
        .issuer(&server.issuer, keys)
        .build()
        .unwrap();
    let verified = auth
        .validator()
        .validate_async(&server.token(), now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-1"));
}

#[tokio::test]
async fn opaque_tokens_are_introspected_through_the_given_client() {
    let server = AuthorizationServer::start().await;
    let fetcher = HyperFetch::new();
    // Keys and introspection endpoint both discovered: one metadata fetch for both.
    let auth = McpAuth::builder(RESOURCE)
        .allow_http_loopback(true)
        .authorization_server(&server.issuer)
        .introspection(&server.issuer, Introspection::new(CLIENT_ID, CLIENT_SECRET))
        .fetcher(fetcher.clone())
        .build()
        .unwrap();

    let verified = auth
        .validator()
        .validate_async(OPAQUE_TOKEN, now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-2"));
    assert_eq!(verified.client_id(), Some("client-2"));
    // The metadata document, then the introspection request.
    assert_eq!(fetcher.calls(), 2);

    let refused = auth
        .validator()
        .validate_async("another-opaque-token", now())
        .await;
    assert!(refused.is_err());
    let verified = auth
        .validator()
        .validate_async(&server.token(), now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-1"));
    // The second introspection and the key set; the metadata came once.
    assert_eq!(fetcher.calls(), 4);
}

#[tokio::test]
async fn introspection_settings_keep_their_own_client() {
    let server = AuthorizationServer::start().await;
    let (shared, own) = (HyperFetch::new(), HyperFetch::new());
    let auth = McpAuth::builder(RESOURCE)
        .allow_http_loopback(true)
        .introspection(
            &server.issuer,
            Introspection::new(CLIENT_ID, CLIENT_SECRET)
                .endpoint(format!("{}/introspect", server.issuer))
                .fetcher(own.clone()),
        )
        .fetcher(shared.clone())
        .build()
        .unwrap();
    let verified = auth
        .validator()
        .validate_async(OPAQUE_TOKEN, now())
        .await
        .unwrap();
    assert_eq!(verified.subject(), Some("user-2"));
    assert_eq!((own.calls(), shared.calls()), (1, 0));
}

/// Without the built-in client, a source given no client is refused when it is built, with
/// a problem that says what to do.
#[cfg(not(feature = "reqwest"))]
mod without_reqwest {
    use mcp_server_auth::McpAuth;
    use mcp_server_auth::config::McpAuthConfig;
    use mcp_server_auth::error::ProblemKind;
    use mcp_server_auth::introspect::Introspection;
    use mcp_server_auth::keys::RemoteJwks;
    use serde_json::json;

    use super::HyperFetch;

    fn says_what_to_do(kind: &ProblemKind) {
        let ProblemKind::HttpClient { reason } = kind else {
            panic!("not an http client problem: {kind}");
        };
        assert!(reason.contains("`reqwest` feature"), "{reason}");
        assert!(reason.contains("`Fetch`"), "{reason}");
    }

    #[test]
    fn remote_keys_without_a_client_are_refused_at_build() {
        let error = RemoteJwks::builder("https://auth.example.com")
            .build()
            .unwrap_err();
        assert_eq!(error.problems().len(), 1);
        says_what_to_do(error.problems()[0].kind());
    }

    #[test]
    fn discovered_keys_and_introspection_without_a_client_are_refused_at_build() {
        let error = McpAuth::builder("https://mcp.example.com/mcp")
            .authorization_server("https://auth.example.com")
            .introspection(
                "https://auth.example.com",
                Introspection::new("id", "secret"),
            )
            .build()
            .unwrap_err();
        // One problem for the keys, one for introspection.
        assert_eq!(error.problems().len(), 2, "{error}");
        for problem in error.problems() {
            says_what_to_do(problem.kind());
        }
    }

    #[test]
    fn configured_issuers_need_a_client_and_take_one() {
        let config: McpAuthConfig = serde_json::from_value(json!({
            "resource": "https://mcp.example.com/mcp",
            "issuers": [{ "issuer": "https://auth.example.com" }],
        }))
        .unwrap();
        let error = config.build().unwrap_err();
        assert_eq!(error.problems().len(), 1, "{error}");
        says_what_to_do(error.problems()[0].kind());

        let auth = config.fetcher(HyperFetch::new()).build().unwrap();
        assert_eq!(
            auth.validator().issuers().collect::<Vec<_>>(),
            ["https://auth.example.com"]
        );
    }
}
