use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;
use mcp_server_auth::McpAuth;

const RESOURCE: &str = "https://mcp.example.com/mcp";

/// Whether `keys` (for `issuer`) accepts `token`.
fn accepts(issuer: &str, keys: StaticKeys, token: &str) -> bool {
    let auth = McpAuth::builder(RESOURCE)
        .issuer(issuer, keys)
        .allow_http_loopback(true)
        .build()
        .unwrap();
    auth.validator().validate(token, unix_now()).is_ok()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

struct Fetched {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn fetch_with(method: reqwest::Method, url: &str) -> Fetched {
    let response = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap();
    Fetched {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

async fn get(url: &str) -> Fetched {
    fetch_with(reqwest::Method::GET, url).await
}

/// One raw HTTP/1.1 exchange on a fresh connection; returns everything the server sent.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn issuer_is_send_sync_clone_and_static() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<TestIssuer>();
}

#[test]
fn offline_issuer_mints_tokens_its_keys_accept() {
    for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA] {
        let issuer = TestIssuer::with_algorithm("https://auth.example.com", alg);
        assert_eq!(issuer.algorithm(), alg);
        let token = issuer.token().audience(RESOURCE).sign();
        let header = header_of(&token);
        assert_eq!(header["alg"], alg.as_str());
        assert_eq!(header["kid"], issuer.kid());
        assert_eq!(header["typ"], "at+jwt");
        assert!(accepts(issuer.issuer(), issuer.keys(), &token), "{alg}");
        let pem = StaticKeys::from_pem(issuer.public_key_pem(), Some(issuer.kid())).unwrap();
        assert!(accepts(issuer.issuer(), pem, &token), "{alg} pem");
        assert_eq!(issuer.jwk()["kid"], issuer.kid());
        assert_eq!(issuer.published_kids(), [issuer.kid()]);
    }
    let fallback = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::HS256);
    assert_eq!(fallback.algorithm(), Algorithm::ES256);
}

#[test]
fn offline_issuer_computes_urls_and_serves_nothing() {
    let issuer = TestIssuer::new("https://auth.example.com/tenant1/");
    assert_eq!(issuer.issuer(), "https://auth.example.com/tenant1/");
    assert_eq!(
        issuer.metadata_url(),
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant1"
    );
    assert_eq!(
        issuer.openid_configuration_url(),
        "https://auth.example.com/tenant1/.well-known/openid-configuration"
    );
    assert_eq!(issuer.jwks_uri(), "https://auth.example.com/tenant1/jwks");
    assert_eq!(issuer.local_addr(), None);
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (0, 0));
    // Fault settings are accepted and harmless.
    issuer.fail_with(Some(500));
    issuer.set_delay(Duration::from_secs(1));

    let root = TestIssuer::new("https://auth.example.com");
    assert_eq!(
        root.metadata_url(),
        "https://auth.example.com/.well-known/oauth-authorization-server"
    );
    let not_a_url = TestIssuer::new("issuer-1");
    assert_eq!(not_a_url.jwks_uri(), "");
    assert_eq!(not_a_url.metadata_url(), "");
    assert_eq!(not_a_url.openid_configuration_url(), "");
}

#[test]
fn token_builder_sets_and_removes_claims_and_headers() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let builder = issuer
        .token()
        .audience(RESOURCE)
        .scope("a b")
        .subject("alice")
        .client_id("cli")
        .claim("extra", 7)
        .without_claim("jti")
        .header("kid", "other")
        .without_header("typ")
        .expires_in(-10);
    let (header, claims) = builder.parts();
    assert_eq!(header.get("kid"), Some(&Value::from("other")));
    assert!(!header.contains_key("typ"));
    assert_eq!(claims["aud"], RESOURCE);
    assert_eq!(claims["scope"], "a b");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "cli");
    assert_eq!(claims["extra"], 7);
    assert!(!claims.contains_key("jti"));
    assert!(claims["exp"].as_i64().unwrap() < i64::try_from(unix_now()).unwrap());
    let raw = issuer.sign_raw(b"{\"alg\":\"ES256\"}", b"not json");
    assert_eq!(raw.split('.').count(), 3);
    assert_eq!(issuer.sign_bytes(b"x.y").len(), 64);
}

#[test]
fn debug_names_keys_but_never_key_material() {
    let issuer = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::EdDSA);
    let debug = format!("{issuer:?} {:?}", issuer.token());
    assert!(debug.contains(issuer.kid()), "{debug}");
    assert!(debug.contains("https://auth.example.com"), "{debug}");
    // Not even the public key is printed.
    let x = issuer.jwk()["x"].as_str().unwrap().to_owned();
    assert!(!debug.contains(&x), "{debug}");
}

#[tokio::test]
async fn started_issuer_serves_rfc8414_and_openid_metadata() {
    let issuer = TestIssuer::start().await;
    let addr = issuer.local_addr().unwrap();
    assert!(addr.ip().is_loopback());
    assert_eq!(issuer.issuer(), format!("http://{addr}"));
    assert_eq!(
        issuer.metadata_url(),
        format!("http://{addr}/.well-known/oauth-authorization-server")
    );
    assert_eq!(
        issuer.openid_configuration_url(),
        format!("http://{addr}/.well-known/openid-configuration")
    );
    assert_eq!(issuer.jwks_uri(), format!("http://{addr}/jwks"));

    for url in [issuer.metadata_url(), issuer.openid_configuration_url()] {
        let response = get(&url).await;
        assert_eq!(response.status, 200, "{url}");
        assert_eq!(response.header("content-type"), Some("application/json"));
        let document = response.json();
        assert_eq!(document["issuer"], issuer.issuer());
        assert_eq!(document["jwks_uri"], issuer.jwks_uri());
        assert_eq!(
            document["code_challenge_methods_supported"],
            json!(["S256"])
        );
        assert_eq!(document["response_types_supported"], json!(["code"]));
        assert!(document["grant_types_supported"].is_array());
        assert!(
            document["authorization_endpoint"]
                .as_str()
                .unwrap()
                .starts_with(issuer.issuer())
        );
        assert!(
            document["token_endpoint"]
                .as_str()
                .unwrap()
                .starts_with(issuer.issuer())
        );
    }
    let openid = get(&issuer.openid_configuration_url()).await.json();
    assert_eq!(
        openid["id_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(issuer.metadata_fetches(), 3);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn served_jwks_verifies_minted_tokens() {
    for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA] {
        let issuer = TestIssuer::start_with_algorithm(alg).await;
        let response = get(&issuer.jwks_uri()).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("cache-control"), None);
        assert_eq!(response.body, issuer.jwks().as_bytes());
        let keys = StaticKeys::from_jwks(&response.body).unwrap();
        let token = issuer.token().audience(RESOURCE).sign();
        assert!(accepts(issuer.issuer(), keys, &token), "{alg}");
        assert_eq!(issuer.jwks_fetches(), 1);
    }
}

#[tokio::test]
async fn issuer_with_a_path_uses_path_inserted_discovery() {
    let issuer = TestIssuer::start_at_path("tenant1/").await;
    let addr = issuer.local_addr().unwrap();
    assert_eq!(issuer.issuer(), format!("http://{addr}/tenant1"));
    assert_eq!(
        issuer.metadata_url(),
        format!("http://{addr}/.well-known/oauth-authorization-server/tenant1")
    );
    assert_eq!(
        issuer.openid_configuration_url(),
        format!("http://{addr}/tenant1/.well-known/openid-configuration")
    );
    assert_eq!(issuer.jwks_uri(), format!("http://{addr}/tenant1/jwks"));
    for url in [
        issuer.metadata_url(),
        issuer.openid_configuration_url(),
        issuer.jwks_uri(),
    ] {
        assert_eq!(get(&url).await.status, 200, "{url}");
    }
    let metadata = get(&issuer.metadata_url()).await.json();
    assert_eq!(metadata["issuer"], issuer.issuer());
    assert_eq!(metadata["jwks_uri"], issuer.jwks_uri());
    // The root documents belong to another issuer: not served.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/openid-configuration/tenant1",
        "/jwks",
        "/tenant1",
        "/tenant1/jwks/",
    ] {
        assert_eq!(
            get(&format!("http://{addr}{path}")).await.status,
            404,
            "{path}"
        );
    }
    let root = TestIssuer::start_at_path("/").await;
    assert_eq!(
        root.issuer(),
        format!("http://{}", root.local_addr().unwrap())
    );
}

#[tokio::test]
async fn unknown_paths_get_404_and_other_methods_405() {
    let issuer = TestIssuer::start().await;
    let addr = issuer.local_addr().unwrap();
    for path in ["/", "/authorize", "/token", "/jwks.json", "/.well-known/"] {
        let response = get(&format!("http://{addr}{path}")).await;
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.body, b"{}");
    }
    let response = fetch_with(reqwest::Method::POST, &issuer.jwks_uri()).await;
    assert_eq!(response.status, 405);
    assert_eq!(response.header("allow"), Some("GET, HEAD"));
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (1, 0));
}

#[tokio::test]
async fn raw_http_exchanges_and_head() {
    let issuer = TestIssuer::start().await;
    let addr = issuer.local_addr().unwrap();
    let response = raw(
        addr,
        "GET /jwks?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let jwks = issuer.jwks();
    assert!(
        response
            .to_ascii_lowercase()
            .contains(&format!("content-length: {}\r\n", jwks.len())),
        "{response}"
    );
    assert!(response.ends_with(&jwks), "{response}");

    let response = raw(
        addr,
        "HEAD /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with("\r\n\r\n"),
        "HEAD has no body: {response}"
    );
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (1, 1));
}

#[tokio::test]
async fn rotation_changes_the_served_set_and_the_signing_kid() {
    let issuer = TestIssuer::start().await;
    let first = issuer.kid().to_owned();
    let before = issuer.token().audience(RESOURCE);
    let old_keys = issuer.keys();

    let second = issuer.rotate();
    assert_ne!(first, second);
    assert_eq!(issuer.kid(), second);
    assert_eq!(issuer.jwk()["kid"], second.as_str());
    assert_eq!(issuer.published_kids(), [first.clone(), second.clone()]);
    let served = get(&issuer.jwks_uri()).await.json();
    let kids: Vec<&str> = served["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, [first.as_str(), second.as_str()]);

    // New tokens name and use the new key; a builder made before keeps the old one.
    let new_token = issuer.token().audience(RESOURCE).sign();
    assert_eq!(header_of(&new_token)["kid"], second.as_str());
    let old_token = before.sign();
    assert_eq!(header_of(&old_token)["kid"], first.as_str());
    assert!(!accepts(issuer.issuer(), old_keys.clone(), &new_token));
    assert!(accepts(issuer.issuer(), old_keys, &old_token));
    assert!(accepts(issuer.issuer(), issuer.keys(), &new_token));
    assert!(accepts(issuer.issuer(), issuer.keys(), &old_token));

    // Retire the first key: only the second is served and accepted.
    issuer.retire(&first);
    issuer.retire("no-such-kid");
    assert_eq!(issuer.published_kids(), std::slice::from_ref(&second));
    let served = get(&issuer.jwks_uri()).await.json();
    assert_eq!(served["keys"].as_array().unwrap().len(), 1);
    assert_eq!(served["keys"][0]["kid"], second.as_str());
    assert!(!accepts(issuer.issuer(), issuer.keys(), &old_token));
    assert!(accepts(issuer.issuer(), issuer.keys(), &new_token));

    // RSA rotates to RSA.
    let rsa = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::RS256);
    rsa.rotate();
    assert_eq!(rsa.jwk()["kty"], "RSA");
    let token = rsa.token().audience(RESOURCE).sign();
    assert!(accepts(rsa.issuer(), rsa.keys(), &token));
}

#[test]
fn retiring_every_key_leaves_a_set_that_verifies_nothing() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let token = issuer.token().audience(RESOURCE).sign();
    issuer.retire(issuer.kid());
    assert!(issuer.published_kids().is_empty());
    assert_eq!(issuer.jwks(), r#"{"keys":[]}"#);
    assert!(!accepts(issuer.issuer(), issuer.keys(), &token));
    // Still signing with the retired key; a rotation publishes again.
    assert_eq!(header_of(&issuer.token().sign())["kid"], issuer.kid());
    let kid = issuer.rotate();
    assert_eq!(issuer.published_kids(), [kid]);
}

#[test]
fn many_rotations_keep_every_kid_reachable() {
    let issuer = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::EdDSA);
    let mut kids = vec![issuer.kid().to_owned()];
    for _ in 0..200 {
        kids.push(issuer.rotate());
        assert_eq!(issuer.kid(), kids.last().unwrap());
    }
    assert_eq!(issuer.published_kids(), kids);
    let unique: std::collections::HashSet<_> = kids.iter().collect();
    assert_eq!(unique.len(), kids.len());
}

#[test]
fn concurrent_rotations_are_all_published() {
    let issuer = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::EdDSA);
    let kids: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| (0..10).map(|_| issuer.rotate()).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let published = issuer.published_kids();
    assert_eq!(published.len(), 81);
    for kid in &kids {
        assert!(published.contains(kid));
    }
    assert_eq!(issuer.kid(), published.last().unwrap());
}

#[tokio::test]
async fn fail_with_answers_that_status_on_every_route() {
    let issuer = TestIssuer::start().await;
    issuer.fail_with(Some(503));
    for url in [
        issuer.metadata_url(),
        issuer.openid_configuration_url(),
        issuer.jwks_uri(),
    ] {
        let response = get(&url).await;
        assert_eq!(response.status, 503, "{url}");
        assert_eq!(response.body, b"{}");
        assert_eq!(response.header("content-type"), Some("application/json"));
    }
    let unknown = format!("http://{}/nothing", issuer.local_addr().unwrap());
    assert_eq!(get(&unknown).await.status, 404);
    issuer.fail_with(Some(42));
    assert_eq!(get(&issuer.jwks_uri()).await.status, 500);
    issuer.fail_with(Some(429));
    assert_eq!(get(&issuer.jwks_uri()).await.status, 429);
    issuer.fail_with(None);
    assert_eq!(get(&issuer.jwks_uri()).await.status, 200);
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (4, 2));
}

#[tokio::test]
async fn serve_jwks_body_serves_exact_bytes() {
    let issuer = TestIssuer::start().await;
    let hostile = b"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}\xff".to_vec();
    issuer.serve_jwks_body(Some(hostile.clone()));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(response.body, hostile);
    issuer.serve_jwks_body(Some(Vec::new()));
    assert_eq!(get(&issuer.jwks_uri()).await.body, b"");
    // Metadata is unaffected; clearing serves the real set again.
    assert_eq!(get(&issuer.metadata_url()).await.status, 200);
    issuer.serve_jwks_body(None);
    assert_eq!(get(&issuer.jwks_uri()).await.body, issuer.jwks().as_bytes());
    // An injected failure wins over a replaced body.
    issuer.serve_jwks_body(Some(b"{}".to_vec()));
    issuer.fail_with(Some(500));
    assert_eq!(get(&issuer.jwks_uri()).await.status, 500);
}

#[tokio::test]
async fn cache_control_is_sent_on_jwks_responses() {
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("public, max-age=5"));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.header("cache-control"), Some("public, max-age=5"));
    issuer.serve_jwks_body(Some(b"{\"keys\":[]}".to_vec()));
    let response = get(&issuer.jwks_uri()).await;
    assert_eq!(response.header("cache-control"), Some("public, max-age=5"));
    let metadata = get(&issuer.metadata_url()).await;
    assert_eq!(metadata.header("cache-control"), None);
    issuer.set_cache_control(Some("bad\nvalue"));
    assert_eq!(get(&issuer.jwks_uri()).await.header("cache-control"), None);
    issuer.set_cache_control(None);
    assert_eq!(get(&issuer.jwks_uri()).await.header("cache-control"), None);
}

#[tokio::test]
async fn advertise_issuer_changes_both_documents() {
    let issuer = TestIssuer::start().await;
    issuer.advertise_issuer(Some("https://evil.example.com"));
    for url in [issuer.metadata_url(), issuer.openid_configuration_url()] {
        let document = get(&url).await.json();
        assert_eq!(document["issuer"], "https://evil.example.com");
        assert_eq!(document["jwks_uri"], issuer.jwks_uri());
    }
    assert_eq!(
        issuer.issuer(),
        format!("http://{}", issuer.local_addr().unwrap())
    );
    issuer.advertise_issuer(None);
    assert_eq!(
        get(&issuer.metadata_url()).await.json()["issuer"],
        issuer.issuer()
    );
}

#[tokio::test]
async fn serve_discovery_turns_documents_off() {
    let issuer = TestIssuer::start().await;
    issuer.serve_discovery(false, true);
    assert_eq!(get(&issuer.metadata_url()).await.status, 404);
    assert_eq!(get(&issuer.openid_configuration_url()).await.status, 200);
    issuer.serve_discovery(true, false);
    assert_eq!(get(&issuer.metadata_url()).await.status, 200);
    assert_eq!(get(&issuer.openid_configuration_url()).await.status, 404);
    issuer.serve_discovery(false, false);
    assert_eq!(get(&issuer.metadata_url()).await.status, 404);
    assert_eq!(get(&issuer.openid_configuration_url()).await.status, 404);
    assert_eq!(get(&issuer.jwks_uri()).await.status, 200);
    // Refused requests were still received.
    assert_eq!(issuer.metadata_fetches(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn delay_holds_responses_without_blocking_the_runtime() {
    let issuer = TestIssuer::start().await;
    let delay = Duration::from_secs(3);
    issuer.set_delay(delay);
    let started = Instant::now();
    let slow = tokio::spawn({
        let url = issuer.jwks_uri();
        async move { get(&url).await.status }
    });
    // The single-threaded runtime keeps running other work while the response waits: the
    // request is counted on arrival, long before its answer.
    while issuer.jwks_fetches() == 0 && started.elapsed() < delay / 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(issuer.jwks_fetches(), 1, "counted on arrival");
    assert!(!slow.is_finished());
    assert_eq!(slow.await.unwrap(), 200);
    assert!(started.elapsed() >= delay);

    // A client that gives up sees a timeout; no delay answers at once again.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    assert!(
        client
            .get(issuer.jwks_uri())
            .send()
            .await
            .unwrap_err()
            .is_timeout()
    );
    issuer.set_delay(Duration::ZERO);
    let client = reqwest::Client::new();
    let started = Instant::now();
    let response = client.get(issuer.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < delay, "no longer delayed");
}

#[tokio::test]
async fn counters_count_and_reset() {
    let issuer = TestIssuer::start().await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        client.get(issuer.jwks_uri()).send().await.unwrap();
    }
    client.get(issuer.metadata_url()).send().await.unwrap();
    client
        .get(issuer.openid_configuration_url())
        .send()
        .await
        .unwrap();
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (3, 2));
    let clone = issuer.clone();
    clone.reset_counters();
    assert_eq!((issuer.jwks_fetches(), issuer.metadata_fetches()), (0, 0));
    client.get(issuer.jwks_uri()).send().await.unwrap();
    assert_eq!(clone.jwks_fetches(), 1);
}

#[tokio::test]
async fn clones_share_keys_faults_and_server() {
    let issuer = TestIssuer::start().await;
    let clone = issuer.clone();
    let kid = clone.rotate();
    assert_eq!(issuer.kid(), kid);
    clone.fail_with(Some(500));
    assert_eq!(get(&issuer.jwks_uri()).await.status, 500);
    drop(clone);
    // The server lives on while one clone does.
    issuer.fail_with(None);
    assert_eq!(get(&issuer.jwks_uri()).await.status, 200);
}

#[tokio::test]
async fn dropping_the_last_clone_stops_the_server() {
    let issuer = TestIssuer::start().await;
    let addr = issuer.local_addr().unwrap();
    let url = issuer.jwks_uri();
    // An idle keep-alive connection is open when the issuer goes.
    let client = reqwest::Client::new();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    drop(issuer);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = tokio::net::TcpStream::connect(addr).await.is_err();
        let failed = client.get(&url).send().await.is_err();
        if refused && failed {
            break;
        }
        assert!(Instant::now() < deadline, "server still answering");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
