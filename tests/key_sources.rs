//! The layer's use of the `KeySource` trait: unknown-kid refresh, and unavailable keys.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use mcp_server_auth::keys::{KeySet, KeySource, KeysUnavailable, RefreshFuture};
use mcp_server_auth_dev::testing::TestIssuer;

/// A source that publishes `before` until refreshed, then `after`; counts refreshes.
#[derive(Debug)]
struct Rotating {
    current: Mutex<Arc<KeySet>>,
    after: Arc<KeySet>,
    refreshes: Arc<AtomicUsize>,
}

impl KeySource for Rotating {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Ok(Arc::clone(&self.current.lock().unwrap()))
    }

    fn refresh(&self) -> RefreshFuture {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        *self.current.lock().unwrap() = Arc::clone(&self.after);
        let after = Arc::clone(&self.after);
        Box::pin(async move {
            // A real fetch takes a while; make the layer wait for it.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Ok(after)
        })
    }
}

#[derive(Debug)]
struct Unavailable;

impl KeySource for Unavailable {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Err(KeysUnavailable::new(7))
    }
}

#[tokio::test]
async fn unknown_kid_triggers_one_refresh_then_the_new_key_is_accepted() {
    let old = TestIssuer::new(ISSUER);
    let new = TestIssuer::new(ISSUER);
    let refreshes = Arc::new(AtomicUsize::new(0));
    let source = Rotating {
        current: Mutex::new(Arc::new(KeySet::from_jwks(old.jwks().as_bytes()).unwrap())),
        after: Arc::new(KeySet::from_jwks(new.jwks().as_bytes()).unwrap()),
        refreshes: Arc::clone(&refreshes),
    };
    let placeholder = TestIssuer::new("https://placeholder.example.com");
    let server = start_with_issuer(placeholder, |b| b.issuer(ISSUER, source)).await;
    let token = new
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);

    // Known now: no further refresh.
    assert_eq!(post_token(&server, &token).await.status(), 200);
    assert_eq!(refreshes.load(Ordering::SeqCst), 1);

    // A kid that stays unknown after the refresh is rejected, after exactly one more refresh.
    let stranger = TestIssuer::new(ISSUER);
    let token = stranger
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    assert_invalid_token(&server, &token).await;
    assert_eq!(refreshes.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn token_without_kid_does_not_trigger_a_refresh() {
    let issuer = TestIssuer::new(ISSUER);
    let refreshes = Arc::new(AtomicUsize::new(0));
    let set = Arc::new(KeySet::from_jwks(issuer.jwks().as_bytes()).unwrap());
    let source = Rotating {
        current: Mutex::new(Arc::clone(&set)),
        after: set,
        refreshes: Arc::clone(&refreshes),
    };
    let placeholder = TestIssuer::new("https://placeholder.example.com");
    let server = start_with_issuer(placeholder, |b| b.issuer(ISSUER, source)).await;
    let stranger = TestIssuer::new(ISSUER);
    let token = stranger
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .without_header("kid")
        .sign();
    assert_invalid_token(&server, &token).await;
    assert_eq!(refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn unavailable_keys_get_503_with_retry_after_not_401() {
    let placeholder = TestIssuer::new("https://placeholder.example.com");
    let server = start_with_issuer(placeholder, |b| b.issuer(ISSUER, Unavailable)).await;
    let issuer = TestIssuer::new(ISSUER);
    let token = issuer
        .token()
        .audience(server.resource.clone())
        .scope("mcp:tools")
        .sign();
    let response = post_token(&server, &token).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "7");
    assert!(response.headers().get("www-authenticate").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

#[test]
fn jwk_alg_pins_a_key_to_one_algorithm() {
    use mcp_server_auth::keys::{Algorithm, StaticKeys};
    let issuer = TestIssuer::with_algorithm(ISSUER, Algorithm::RS256);
    let pinned = issuer.keys().current().unwrap();
    let algorithms: Vec<_> = pinned.iter().next().unwrap().algorithms().collect();
    assert_eq!(algorithms, [Algorithm::RS256]);

    // Without `alg`, an RSA key may serve every RSA algorithm of the allow-list.
    let mut jwk = issuer.jwk();
    jwk.as_object_mut().unwrap().remove("alg");
    let doc = serde_json::json!({ "keys": [jwk] }).to_string();
    let open = StaticKeys::from_jwks(doc).unwrap().current().unwrap();
    let algorithms: Vec<_> = open.iter().next().unwrap().algorithms().collect();
    assert_eq!(algorithms.len(), 6);
    assert!(algorithms.contains(&Algorithm::PS512));
}
