//! The built-in client's settings against real peers on loopback: a JWKS served over HTTPS
//! with a certificate from a test certificate authority made at run time (trusted only once
//! added as a root, also on a machine with no CA bundle), a proxy that must see every request,
//! and settings that cannot be used (an error, never a panic).
#![cfg(feature = "reqwest")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper_util::rt::TokioIo;
use mcp_server_auth::McpAuth;
use mcp_server_auth::keys::RemoteJwks;
use mcp_server_auth::keys::remote::{
    Fetch, FetchError, FetchRequest, KeyFetchError, ReqwestFetcher,
};
use mcp_server_auth::validate::TokenErrorKind;
use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// An HTTPS server on `127.0.0.1` serving a key set at `/jwks`, its certificate signed by a
/// certificate authority made for the test.
struct HttpsJwks {
    /// The authority's certificate, PEM.
    ca_pem: String,
    /// `https://127.0.0.1:<port>`: the issuer of [`HttpsJwks::issuer`].
    origin: String,
    issuer: TestIssuer,
}

impl HttpsJwks {
    async fn start() -> HttpsJwks {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mcp-server-auth test authority");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let tls = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![server_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("https://{}", listener.local_addr().unwrap());
        let issuer = TestIssuer::new(origin.clone());
        let jwks = issuer.jwks();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, jwks) = (acceptor.clone(), jwks.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate ends here.
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let body = if request.uri().path() == "/jwks" {
                            jwks.clone()
                        } else {
                            String::new()
                        };
                        async move {
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(if body.is_empty() { 404 } else { 200 })
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        HttpsJwks {
            ca_pem: ca.pem(),
            origin,
            issuer,
        }
    }

    fn keys(&self, fetcher: impl Fetch) -> RemoteJwks {
        RemoteJwks::builder(&self.origin)
            .jwks_uri(format!("{}/jwks", self.origin))
            .fetcher(fetcher)
            .build()
            .unwrap()
    }

    fn token(&self) -> String {
        self.issuer.token().audience(RESOURCE).sign()
    }
}

/// Keys fetched from the server with the test authority added as a root verify a token.
async fn fetches_with_the_added_root(server: &HttpsJwks) {
    let fetcher = ReqwestFetcher::builder()
        .add_root_certificate_pem(&server.ca_pem)
        .build()
        .unwrap();
    let keys = server.keys(fetcher);
    keys.prefetch().await.unwrap();
    let auth = McpAuth::builder(RESOURCE)
        .issuer(&server.origin, keys)
        .build()
        .unwrap();
    let verified = auth
        .validator()
        .validate_async(&server.token(), unix_now())
        .await
        .unwrap();
    assert_eq!(verified.issuer(), server.origin);
}

#[tokio::test]
async fn keys_from_a_server_signed_by_an_added_root_verify_tokens() {
    let server = HttpsJwks::start().await;
    fetches_with_the_added_root(&server).await;
}

#[tokio::test]
async fn the_builder_client_with_an_added_root_serves_discovered_issuers() {
    let server = HttpsJwks::start().await;
    let fetcher = ReqwestFetcher::builder()
        .add_root_certificate_pem(&server.ca_pem)
        .build()
        .unwrap();
    let auth = McpAuth::builder(RESOURCE)
        .authorization_server_with_jwks_uri(&server.origin, format!("{}/jwks", server.origin))
        .fetcher(fetcher)
        .build()
        .unwrap();
    let verified = auth
        .validator()
        .validate_async(&server.token(), unix_now())
        .await
        .unwrap();
    assert_eq!(verified.issuer(), server.origin);
}

#[tokio::test]
async fn without_the_added_root_the_keys_are_unavailable() {
    let server = HttpsJwks::start().await;
    // A machine with no CA bundle cannot even make the client: no root, no connection.
    let Ok(fetcher) = ReqwestFetcher::new() else {
        return;
    };
    let keys = server.keys(fetcher);
    let error = keys.prefetch().await.unwrap_err();
    assert!(
        matches!(error, KeyFetchError::Fetch(FetchError::Transport(_))),
        "{error:?}"
    );
    let auth = McpAuth::builder(RESOURCE)
        .issuer(&server.origin, keys)
        .build()
        .unwrap();
    let refused = auth
        .validator()
        .validate_async(&server.token(), unix_now())
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), TokenErrorKind::KeysUnavailable);
}

/// The platform's roots are hidden from a copy of this test binary (`SSL_CERT_FILE` and
/// `SSL_CERT_DIR` name nothing), as in an image without a CA bundle: the default client
/// cannot be made, and the one given the test authority fetches keys.
#[cfg(target_os = "linux")]
#[test]
fn added_roots_work_without_a_ca_bundle() {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "no_ca_bundle_child", "--nocapture"])
        .env("SSL_CERT_FILE", "/dev/null")
        .env("SSL_CERT_DIR", "/nonexistent-mcp-server-auth-test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Run by [`added_roots_work_without_a_ca_bundle`] only.
#[tokio::test]
#[ignore = "run by added_roots_work_without_a_ca_bundle, with the platform's roots hidden"]
async fn no_ca_bundle_child() {
    let error = ReqwestFetcher::new().unwrap_err();
    assert!(matches!(error, FetchError::Transport(_)), "{error:?}");
    let server = HttpsJwks::start().await;
    fetches_with_the_added_root(&server).await;
}

#[test]
fn a_root_certificate_that_is_not_pem_is_an_error() {
    let cases: [(&str, &[u8]); 3] = [
        ("empty", b""),
        ("not pem", b"not a certificate"),
        ("truncated block", b"-----BEGIN CERTIFICATE-----\nMIIB\n"),
    ];
    for (name, pem) in cases {
        let error = ReqwestFetcher::builder()
            .add_root_certificate_pem(pem)
            .build()
            .unwrap_err();
        assert!(
            matches!(error, FetchError::InvalidSetting(_)),
            "{name}: {error:?}"
        );
    }
    // A well-formed block that holds no certificate is refused when the client is made.
    let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let error = ReqwestFetcher::builder()
        .add_root_certificate_pem(garbage)
        .build()
        .unwrap_err();
    assert!(matches!(error, FetchError::Transport(_)), "{error:?}");
}

#[test]
fn a_proxy_that_is_not_a_url_is_an_error_that_does_not_repeat_it() {
    let error = ReqwestFetcher::builder()
        .proxy("http://user:secret@[not a host")
        .build()
        .unwrap_err();
    assert!(matches!(error, FetchError::InvalidSetting(_)), "{error:?}");
    assert!(!error.to_string().contains("secret"), "{error}");
    let builder = ReqwestFetcher::builder().proxy("http://user:secret@proxy.example:3128");
    assert!(!format!("{builder:?}").contains("secret"), "{builder:?}");
}

#[tokio::test]
async fn every_request_goes_through_the_configured_proxy() {
    // A forward proxy on loopback that answers itself and keeps each request head.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let (heads, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let Ok(n @ 1..) = stream.read(&mut buf).await else {
                    break;
                };
                head.extend_from_slice(&buf[..n]);
            }
            heads
                .send(String::from_utf8_lossy(&head).into_owned())
                .unwrap();
            let body = r#"{"keys":[]}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });

    let fetcher = ReqwestFetcher::builder().proxy(&proxy).build().unwrap();
    // A host that resolves nowhere: only the proxy can answer.
    let response = fetcher
        .get(FetchRequest::new(
            "http://idp.invalid/jwks",
            Duration::from_secs(5),
            1024,
        ))
        .await
        .unwrap();
    assert_eq!(
        (response.status, &response.body[..]),
        (200, &b"{\"keys\":[]}"[..])
    );
    let head = seen.recv().await.unwrap();
    assert!(
        head.starts_with("GET http://idp.invalid/jwks HTTP/1.1\r\n"),
        "{head}"
    );

    // Without the setting, the same fetch does not reach the proxy.
    let direct = ReqwestFetcher::new().unwrap();
    let failed = direct
        .get(FetchRequest::new(
            "http://idp.invalid/jwks",
            Duration::from_secs(5),
            1024,
        ))
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(seen.try_recv().is_err());
}
