//! Remote keys against a real loopback authorization server (`TestIssuer::start`): discovery,
//! lazy loading, rotation, keys replaced under their `kid`, floods of unknown key ids, late and
//! failing issuers, slow and hostile key endpoints, and several issuers. Every test goes
//! through the real layer over loopback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mcp_server_auth::keys::RemoteJwks;
use mcp_server_auth::keys::remote::{
    DEFAULT_UNKNOWN_KID_BURST, Fetch, FetchFuture, FetchRequest, KeyFetchError, RemoteJwksBuilder,
    ReqwestFetcher,
};
use mcp_server_auth::validate::TokenErrorKind;
use mcp_server_auth_dev::testing::TestIssuer;
use serde_json::Value;

impl App {
    async fn send(&self, token: &str) -> reqwest::Response {
        self.send_with(&client(), token).await
    }

    /// As [`send`](Self::send), through a client kept across requests (building one per
    /// request costs more than the request).
    async fn send_with(&self, client: &reqwest::Client, token: &str) -> reqwest::Response {
        client
            .post(&self.url)
            .header("authorization", format!("Bearer {token}"))
            .body("{}")
            .send()
            .await
            .unwrap()
    }

    fn token(&self, issuer: &TestIssuer) -> String {
        issuer
            .token()
            .audience(self.resource.clone())
            .scope("mcp:tools")
            .sign()
    }

    /// A token like [`App::token`] whose header names `kid`.
    fn token_with_kid(&self, issuer: &TestIssuer, kid: &str) -> String {
        issuer
            .token()
            .audience(self.resource.clone())
            .scope("mcp:tools")
            .header("kid", kid)
            .sign()
    }
}

fn remote(issuer: &TestIssuer) -> RemoteJwksBuilder {
    RemoteJwks::builder(issuer.issuer()).allow_http_loopback(true)
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

#[tokio::test]
async fn keys_load_lazily_on_the_first_request_through_discovery() {
    let issuer = TestIssuer::start().await;
    let app = app(|b| b.authorization_server(issuer.issuer())).await;
    assert_eq!(issuer.jwks_fetches(), 0, "building does no I/O");
    assert!(!app.auth.is_ready());
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    assert_eq!(issuer.jwks_fetches(), 1);
    assert!(app.auth.is_ready());
    // Cached: no more fetches.
    for _ in 0..5 {
        assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    }
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn rotated_key_is_accepted_on_its_first_request() {
    let issuer = TestIssuer::start().await;
    let app = app(|b| b.authorization_server(issuer.issuer())).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    let old_kid = issuer.kid().to_owned();

    let new_kid = issuer.rotate();
    assert_ne!(new_kid, old_kid);
    let token = app.token(&issuer);
    assert_eq!(
        app.send(&token).await.status(),
        200,
        "new key, first request"
    );
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one load, one refresh for the new kid"
    );
}

#[tokio::test]
async fn flood_of_unknown_kids_costs_at_most_the_burst_of_fetches() {
    let issuer = TestIssuer::start().await;
    let app = app(|b| b.authorization_server(issuer.issuer())).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    let loads = issuer.jwks_fetches();

    let tokens: Vec<String> = (0..200)
        .map(|i| app.token_with_kid(&issuer, &format!("random-{i}")))
        .collect();
    // A slow key endpoint makes any request that waits for a fetch stand out.
    let fetch_delay = Duration::from_secs(1);
    issuer.set_delay(fetch_delay);
    let burst = usize::try_from(DEFAULT_UNKNOWN_KID_BURST).unwrap();
    let (mut waited, mut refused, mut unavailable) = (0, 0, 0);
    for (i, token) in tokens.iter().enumerate() {
        let sent = Instant::now();
        let response = app.send(token).await;
        match response.status().as_u16() {
            // A refresh happened and the kid is still unknown.
            401 => {
                assert_eq!(challenge(&response).get("error"), Some("invalid_token"));
                refused += 1;
            }
            // The budget is spent: not a verdict on the token.
            503 => {
                assert_retry_after(&response, 1..=30);
                unavailable += 1;
            }
            status => panic!("request {i}: {status}"),
        }
        if sent.elapsed() >= fetch_delay {
            waited += 1;
        }
    }
    assert!(
        waited <= burst,
        "{waited} requests waited for a fetch; only the burst may"
    );
    assert!(refused <= burst, "{refused} refused after a refresh");
    assert_eq!(refused + unavailable, 200);
    assert!(
        issuer.jwks_fetches() - loads <= burst,
        "{} fetches for 200 unknown kids",
        issuer.jwks_fetches() - loads
    );
}

/// Asserts a `Retry-After` of whole seconds within `range`, and no challenge (the token may be
/// fine).
fn assert_retry_after(response: &reqwest::Response, range: std::ops::RangeInclusive<u64>) -> u64 {
    let secs: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After on 503")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(range.contains(&secs), "Retry-After {secs} not in {range:?}");
    assert!(response.headers().get("www-authenticate").is_none());
    secs
}

/// Issue 14, defect 2: a key published while a flood of made-up key ids runs. No valid token
/// signed with it is refused with 401 (each is accepted, or gets 503 with `Retry-After` while
/// the refresh budget is spent), one is accepted soon, and the flood costs the key endpoint
/// at most `burst + elapsed / interval` fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_published_during_a_flood_of_made_up_kids_is_never_refused_with_401() {
    let interval = ms(300);
    let issuer = TestIssuer::start().await;
    let source = remote(&issuer)
        .jwks_uri(issuer.jwks_uri())
        .min_refresh_interval(interval)
        .build()
        .unwrap();
    let app = Arc::new(app(|b| b.issuer(issuer.issuer(), source)).await);
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    issuer.reset_counters();
    let flood_started = Instant::now();

    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..4)
        .map(|worker| {
            let (app, issuer, stop) = (Arc::clone(&app), issuer.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let client = client();
                let mut sent = 0;
                while !stop.load(Ordering::SeqCst) {
                    let token = app.token_with_kid(&issuer, &format!("made-up-{worker}-{sent}"));
                    let response = app.send_with(&client, &token).await;
                    match response.status().as_u16() {
                        401 => {}
                        503 => {
                            assert_retry_after(&response, 1..=1);
                        }
                        status => panic!("made-up kid: {status}"),
                    }
                    sent += 1;
                }
                sent
            })
        })
        .collect();

    tokio::time::sleep(ms(500)).await;
    issuer.rotate();
    let published = Instant::now();
    let client = client();
    let (mut accepted, mut first_accepted) = (0, None);
    while published.elapsed() < ms(2000) {
        let response = app.send_with(&client, &app.token(&issuer)).await;
        match response.status().as_u16() {
            200 => {
                accepted += 1;
                first_accepted.get_or_insert(published.elapsed());
            }
            503 => {
                assert_retry_after(&response, 1..=1);
            }
            status => panic!(
                "a valid token signed with the new key got {status} {:?} after {:?}",
                response.headers().get("www-authenticate"),
                published.elapsed()
            ),
        }
        tokio::time::sleep(ms(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut flood = 0;
    for flooder in flooders {
        flood += flooder.await.unwrap();
    }
    let elapsed = flood_started.elapsed();

    let first_accepted = first_accepted.expect("no valid token was accepted");
    assert!(
        first_accepted < ms(1500),
        "first accepted {first_accepted:?} after the key was published"
    );
    assert!(accepted > 10, "{accepted} accepted");
    assert!(flood > 100, "only {flood} made-up kids sent");
    let bound = usize::try_from(DEFAULT_UNKNOWN_KID_BURST).unwrap()
        + usize::try_from(elapsed.as_millis() / interval.as_millis()).unwrap()
        + 1;
    assert!(
        issuer.jwks_fetches() <= bound,
        "{} fetches for {flood} made-up kids in {elapsed:?}; at most {bound}",
        issuer.jwks_fetches()
    );
}

/// A token signed with a new key that arrives while a fetch started before the key was
/// published is in flight: joining that fetch proves nothing about the key, so the token gets
/// 503 with `Retry-After`, and is accepted on its retry.
#[tokio::test]
async fn joining_a_fetch_that_predates_the_key_is_no_reason_for_401() {
    let issuer = TestIssuer::new("https://auth.example.com");
    let old_keys = issuer.jwks();
    let document = Arc::new(Mutex::new(old_keys));
    let hits = Arc::new(AtomicUsize::new(0));
    // A key endpoint that answers with the document as it was when the request arrived, after
    // a while.
    let served = Arc::clone(&document);
    let counter = Arc::clone(&hits);
    let keys = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let body = served.lock().unwrap().clone();
            let delay = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Duration::ZERO
            } else {
                ms(500)
            };
            async move {
                tokio::time::sleep(delay).await;
                body
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, keys).await.unwrap() });
    let source = RemoteJwks::builder(issuer.issuer())
        .jwks_uri(jwks_uri)
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let app = Arc::new(app(|b| b.issuer(issuer.issuer(), source)).await);
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);

    // A made-up kid starts a fetch of the old document.
    let made_up = app.token_with_kid(&issuer, "made-up");
    let flooder = Arc::clone(&app);
    let flood = tokio::spawn(async move { flooder.send(&made_up).await.status() });
    while hits.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(ms(10)).await;
    }
    // The new key is published meanwhile, and a token signed with it joins that fetch.
    issuer.rotate();
    *document.lock().unwrap() = issuer.jwks();
    let token = app.token(&issuer);
    let response = app.send(&token).await;
    assert_eq!(response.status(), 503, "joined a fetch older than the key");
    assert_retry_after(&response, 1..=1);
    assert_eq!(
        flood.await.unwrap(),
        401,
        "that fetch did happen for the made-up kid"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    assert_eq!(
        app.send(&token).await.status(),
        200,
        "the retry fetches anew"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

/// Once the budget for unknown key ids is spent, a token no key verifies gets 503 with
/// `Retry-After` (through the layer and `validate_async`), not 401: it may be signed with a
/// key published since.
#[tokio::test]
async fn a_spent_refresh_budget_answers_503_until_the_next_refresh() {
    let issuer = TestIssuer::start().await;
    let source = remote(&issuer).unknown_kid_burst(1).build().unwrap();
    let app = app(|b| b.issuer(issuer.issuer(), source)).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    let made_up = app.token_with_kid(&issuer, "made-up");
    // The budget's one fetch: the kid is still unknown after it.
    let response = app.send(&made_up).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response).get("error"), Some("invalid_token"));
    assert_eq!(issuer.jwks_fetches(), 2);

    issuer.rotate();
    let token = app.token(&issuer);
    for sent in [&token, &made_up] {
        let response = app.send(sent).await;
        assert_eq!(response.status(), 503);
        assert_retry_after(&response, 1..=30);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "temporarily_unavailable");
    }
    let error = app
        .auth
        .validator()
        .validate_async(&token, mcp_server_auth_dev::testing::unix_now())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::KeysUnavailable);
    assert!(
        error
            .retry_after_secs()
            .is_some_and(|secs| (1..=30).contains(&secs))
    );
    assert_eq!(issuer.jwks_fetches(), 2, "no fetch beyond the budget");
}

/// Issue 14, item 4: an authorization server that comes up 2 s after the first request is used
/// within seconds, not after the 30 s refresh interval; the load is retried with a growing
/// back-off meanwhile, and the 503s say so in `Retry-After`.
#[tokio::test]
async fn an_issuer_coming_up_late_is_used_within_seconds() {
    // A loopback port nothing listens on yet.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let url = format!("http://{addr}");
    let issuer = TestIssuer::new(url.clone());
    let gets = Arc::new(AtomicUsize::new(0));
    let source = RemoteJwks::builder(url.clone())
        .jwks_uri(format!("{url}/jwks"))
        .allow_http_loopback(true)
        .fetcher(Counting {
            inner: ReqwestFetcher::new().unwrap(),
            gets: Arc::clone(&gets),
        })
        .build()
        .unwrap();
    let app = app(|b| b.issuer(url.clone(), source)).await;
    let token = app.token(&issuer);

    let first = Instant::now();
    while first.elapsed() < ms(2000) {
        let response = app.send(&token).await;
        assert_eq!(response.status(), 503);
        // The back-off after one or two failures, not the refresh interval.
        assert_retry_after(&response, 1..=2);
        tokio::time::sleep(ms(100)).await;
    }
    let attempts = gets.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&attempts),
        "{attempts} fetch attempts in 2 s"
    );

    // The issuer comes up on that port.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let jwks = issuer.jwks();
    let keys = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { jwks }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, keys).await.unwrap() });
    let up = Instant::now();
    loop {
        let response = app.send(&token).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(
            up.elapsed() < Duration::from_secs(5),
            "still 503 5 s after the issuer came up"
        );
        tokio::time::sleep(ms(100)).await;
    }
    assert_eq!(app.send(&token).await.status(), 200);
}

/// Counts the fetches a key source attempts, whether or not they reach a server.
#[derive(Debug)]
struct Counting {
    inner: ReqwestFetcher,
    gets: Arc<AtomicUsize>,
}

impl Fetch for Counting {
    fn get(&self, request: FetchRequest) -> FetchFuture {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(request)
    }
}

/// Issue 14, item 5: an issuer that publishes a new key under an old `kid`. The next valid
/// token is accepted after one refresh; a token signed with the replaced key is refused with
/// `bad_signature` after one more.
#[tokio::test]
async fn a_key_replaced_under_the_same_kid_is_accepted_after_one_refresh() {
    let issuer = TestIssuer::start().await;
    let app = app(|b| b.issuer(issuer.issuer(), remote(&issuer).build().unwrap())).await;
    let old_token = app.token(&issuer);
    assert_eq!(app.send(&old_token).await.status(), 200);
    let fetches = issuer.jwks_fetches();

    let kid = issuer.kid().to_owned();
    let replacement = TestIssuer::new(issuer.issuer());
    let mut jwk = replacement.jwk();
    jwk["kid"] = Value::from(kid.as_str());
    issuer.serve_jwks_body(Some(
        serde_json::json!({ "keys": [jwk] })
            .to_string()
            .into_bytes(),
    ));
    let token = app.token_with_kid(&replacement, kid.as_str());
    assert_eq!(app.send(&token).await.status(), 200, "the new key, at once");
    assert_eq!(
        issuer.jwks_fetches(),
        fetches + 1,
        "after exactly one refresh"
    );
    assert_eq!(app.send(&token).await.status(), 200);
    assert_eq!(issuer.jwks_fetches(), fetches + 1);

    // A new token signed with the key that was replaced: one refresh, then refused.
    let response = app.send(&app.token(&issuer)).await;
    assert_eq!(response.status(), 401);
    let challenge = challenge(&response);
    assert_eq!(challenge.get("error"), Some("invalid_token"));
    assert_eq!(
        challenge.get("error_description"),
        Some(TokenErrorKind::BadSignature.description())
    );
    assert_eq!(issuer.jwks_fetches(), fetches + 2);
}

#[tokio::test]
async fn outage_keeps_keys_until_max_stale_then_503_then_recovers() {
    let issuer = TestIssuer::start().await;
    let source = remote(&issuer)
        .default_ttl(ms(300))
        .ttl_bounds(ms(100), Duration::from_secs(60))
        .max_stale(ms(1500))
        .min_refresh_interval(ms(200))
        .build()
        .unwrap();
    let app = app(|b| b.issuer(issuer.issuer(), source.clone())).await;
    let token = app.token(&issuer);
    assert_eq!(app.send(&token).await.status(), 200);
    let loaded = Instant::now();

    issuer.fail_with(Some(500));
    tokio::time::sleep(ms(450)).await;
    // Past the TTL: the background refresh fails, the cached keys still serve.
    assert_eq!(app.send(&token).await.status(), 200);
    tokio::time::sleep(ms(300)).await;
    assert_eq!(app.send(&token).await.status(), 200);
    assert!(
        source.status().last_error.is_some(),
        "the failure is recorded"
    );

    tokio::time::sleep((loaded + ms(1900)).saturating_duration_since(Instant::now())).await;
    let response = app.send(&token).await;
    assert_eq!(response.status(), 503, "past max_stale: fail closed");
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.headers().get("www-authenticate").is_none());
    assert!(!app.auth.is_ready());

    issuer.fail_with(None);
    tokio::time::sleep(ms(250)).await;
    assert_eq!(app.send(&token).await.status(), 200, "recovered");
    assert!(app.auth.is_ready());
}

#[tokio::test]
async fn slow_refresh_does_not_hold_up_requests_with_known_kids() {
    let issuer = TestIssuer::start().await;
    let source = remote(&issuer)
        .fetch_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let app = Arc::new(app(|b| b.issuer(issuer.issuer(), source)).await);
    let token = app.token(&issuer);
    assert_eq!(app.send(&token).await.status(), 200);

    issuer.set_delay(Duration::from_secs(5));
    let unknown = app.token_with_kid(&issuer, "not-yet-published");
    let waiting_app = Arc::clone(&app);
    let waiting = tokio::spawn(async move { waiting_app.send(&unknown).await.status() });
    tokio::time::sleep(ms(200)).await;

    for i in 0..5 {
        let started = Instant::now();
        assert_eq!(app.send(&token).await.status(), 200);
        // Far below the 5 s fetch: this request did not wait for it.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "known-kid request {i} took {:?}",
            started.elapsed()
        );
    }
    assert!(!waiting.is_finished(), "the refresh is still in flight");
    waiting.abort();
}

#[tokio::test]
async fn issuer_down_from_the_start_gets_503_and_prefetch_reports_it() {
    // A loopback port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let source = RemoteJwks::builder(url.clone())
        .allow_http_loopback(true)
        .min_refresh_interval(ms(100))
        .build()
        .unwrap();
    let app = app(|b| b.issuer(url.clone(), source.clone())).await;

    let offline = TestIssuer::new(url.clone());
    let response = app.send(&app.token(&offline)).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.headers().get("www-authenticate").is_none());

    let error = source.prefetch().await.unwrap_err();
    assert!(matches!(error, KeyFetchError::Discovery(_)), "{error:?}");
    let error = app.auth.prefetch().await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.failures()[0].0, url);
    assert!(!app.auth.is_ready());
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn hostile_key_documents_keep_the_old_keys_and_are_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let issuer = TestIssuer::start().await;
    let source = remote(&issuer).build().unwrap();
    let app = app(|b| b.issuer(issuer.issuer(), source.clone())).await;
    let token = app.token(&issuer);
    assert_eq!(app.send(&token).await.status(), 200);

    let too_many: Vec<Value> = (0..101)
        .map(|i| serde_json::json!({"kty": "EC", "crv": "P-256", "kid": format!("k{i}"), "x": "AA", "y": "AA"}))
        .collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("oversized", vec![b' '; 300 * 1024]),
        (
            "too many keys",
            serde_json::json!({ "keys": too_many })
                .to_string()
                .into_bytes(),
        ),
        ("not json", b"<html>maintenance</html>".to_vec()),
        ("wrong shape", br#"{"keys":"everything"}"#.to_vec()),
        (
            "no usable key",
            br#"{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#.to_vec(),
        ),
        ("empty", Vec::new()),
    ];
    for (name, body) in cases {
        issuer.serve_jwks_body(Some(body));
        let error = source.prefetch().await.unwrap_err();
        assert!(
            matches!(
                error,
                KeyFetchError::Document(_)
                    | KeyFetchError::NoUsableKeys { .. }
                    | KeyFetchError::Fetch(_)
            ),
            "{name}: {error:?}"
        );
        assert_eq!(source.status().last_error, Some(error), "{name}");
        assert_eq!(
            app.send(&token).await.status(),
            200,
            "{name}: old keys still serve"
        );
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.matches("key fetch failed").count() >= 6,
        "each hostile document is logged: {text}"
    );
    assert!(!text.contains(&token));
}

#[tokio::test]
async fn discovery_with_a_tenant_path_works_through_either_metadata_document() {
    let issuer = TestIssuer::start_at_path("/tenant1").await;
    assert!(issuer.issuer().ends_with("/tenant1"));
    for (rfc8414, openid) in [(true, false), (false, true)] {
        issuer.serve_discovery(rfc8414, openid);
        let source = remote(&issuer).build().unwrap();
        source.prefetch().await.unwrap();
        assert!(source.is_ready(), "rfc8414={rfc8414} openid={openid}");
    }
    // End to end through the builder.
    issuer.serve_discovery(true, true);
    let app = app(|b| b.authorization_server(issuer.issuer())).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
}

#[tokio::test]
async fn discovered_issuer_that_differs_is_refused() {
    let issuer = TestIssuer::start().await;
    issuer.advertise_issuer(Some("https://impostor.example.com"));
    let source = remote(&issuer).build().unwrap();
    let error = source.prefetch().await.unwrap_err();
    assert_eq!(
        error,
        KeyFetchError::IssuerMismatch {
            found: "https://impostor.example.com".to_owned()
        }
    );
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "no keys fetched from an impostor's document"
    );
    let app = app(|b| b.issuer(issuer.issuer(), source)).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 503);
}

#[tokio::test]
async fn explicit_jwks_uri_needs_no_discovery() {
    let issuer = TestIssuer::start().await;
    issuer.serve_discovery(false, false);
    let app =
        app(|b| b.authorization_server_with_jwks_uri(issuer.issuer(), issuer.jwks_uri())).await;
    assert_eq!(app.send(&app.token(&issuer)).await.status(), 200);
    assert_eq!(issuer.metadata_fetches(), 0);
}

#[tokio::test]
async fn two_issuers_each_verify_only_their_own_tokens() {
    let a = TestIssuer::start().await;
    let b = TestIssuer::start().await;
    let app = app(|builder| {
        builder
            .authorization_server(a.issuer())
            .authorization_server(b.issuer())
    })
    .await;
    assert_eq!(app.send(&app.token(&a)).await.status(), 200);
    assert_eq!(app.send(&app.token(&b)).await.status(), 200);

    // Claims issuer A, signed with B's key (under B's kid, then under A's kid).
    let forged = b
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .claim("iss", a.issuer())
        .sign();
    assert_eq!(app.send(&forged).await.status(), 401);
    let forged = b
        .token()
        .audience(app.resource.clone())
        .scope("mcp:tools")
        .claim("iss", a.issuer())
        .header("kid", a.kid())
        .sign();
    assert_eq!(app.send(&forged).await.status(), 401);

    let metadata: Value = client()
        .get(app.auth.metadata_url())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["authorization_servers"],
        serde_json::json!([a.issuer(), b.issuer()]),
        "every issuer listed, primary first"
    );
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl_and_refresh_happens_in_the_background() {
    let issuer = TestIssuer::start().await;
    issuer.set_cache_control(Some("public, max-age=1"));
    let source = remote(&issuer)
        .ttl_bounds(ms(500), Duration::from_secs(60))
        .min_refresh_interval(ms(100))
        .build()
        .unwrap();
    let app = app(|b| b.issuer(issuer.issuer(), source)).await;
    let token = app.token(&issuer);
    assert_eq!(app.send(&token).await.status(), 200);
    tokio::time::sleep(ms(500)).await;
    assert_eq!(app.send(&token).await.status(), 200);
    assert_eq!(issuer.jwks_fetches(), 1, "within max-age: no refetch");

    // Past max-age, with a slow key endpoint: the request is answered from the cached set at
    // once, while the refresh runs in the background.
    tokio::time::sleep(ms(700)).await;
    issuer.set_delay(ms(4000));
    let started = Instant::now();
    assert_eq!(app.send(&token).await.status(), 200);
    assert!(
        started.elapsed() < ms(3000),
        "waited for the refresh: {:?}",
        started.elapsed()
    );
    tokio::time::sleep(ms(4500)).await;
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "one background refresh after max-age"
    );
}

/// A refetch that brings the same document keeps the same key set, so the verified-token
/// cache (flushed on every key-set change) keeps its entries; a changed document brings a new
/// set.
#[tokio::test]
async fn an_unchanged_key_document_keeps_the_key_set_and_a_changed_one_replaces_it() {
    use mcp_server_auth::keys::KeySource;

    let issuer = TestIssuer::start().await;
    let source = remote(&issuer).build().unwrap();
    source.prefetch().await.unwrap();
    let first = source.current().unwrap();
    let fetches = issuer.jwks_fetches();

    source.prefetch().await.unwrap();
    assert_eq!(
        issuer.jwks_fetches(),
        fetches + 1,
        "the document was fetched again"
    );
    assert!(Arc::ptr_eq(&first, &source.current().unwrap()));

    issuer.rotate();
    source.prefetch().await.unwrap();
    let rotated = source.current().unwrap();
    assert!(!Arc::ptr_eq(&first, &rotated));
    assert_eq!(rotated.len(), 2);
}
