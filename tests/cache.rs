//! The verified-token cache answers only when the full validation would give the same answer.
//!
//! Each test pins one promise of `mcp_server_auth::cache`: an entry never outlives `exp`
//! (leeway or not), `nbf` and `iat` still apply when the clock steps back, a token differing in
//! one byte is never a hit, a key-set change (a rotated and retired key over a real loopback
//! JWKS, or a custom source swapping sets) or unavailable keys stop entries from answering,
//! the cache stays within its capacity and its byte bound (large tokens evict older entries,
//! and the memory held, measured, stays under the bound), only successes are stored, the
//! disabling settings disable it, and an entry costs a measured, bounded amount of memory,
//! never more than it counts against the byte bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{bind, challenge, client, serve};
use mcp_server_auth::McpAuth;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::keys::{Algorithm, KeySet, KeySource, KeysUnavailable, StaticKeys};
use mcp_server_auth::validate::{TokenErrorKind, Validator};
use mcp_server_auth_dev::testing::{TestIssuer, unix_now};
use serde_json::Value;

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const BASE64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn build(
    keys: impl KeySource,
    configure: impl FnOnce(
        mcp_server_auth::validate::ValidatorBuilder,
    ) -> mcp_server_auth::validate::ValidatorBuilder,
) -> Validator {
    configure(Validator::builder(RESOURCE).issuer(ISSUER, keys))
        .build()
        .unwrap()
}

fn now_i64() -> i64 {
    i64::try_from(unix_now()).unwrap()
}

fn secs(t: i64) -> u64 {
    u64::try_from(t).unwrap()
}

fn kind(validator: &Validator, token: &str, now: i64) -> Result<(), TokenErrorKind> {
    validator
        .validate(token, secs(now))
        .map(|_| ())
        .map_err(|e| e.kind())
}

/// A key source whose current answer a test swaps: a key set, or unavailable keys.
#[derive(Debug)]
struct Swappable {
    state: Mutex<Result<Arc<KeySet>, KeysUnavailable>>,
}

impl Swappable {
    fn new(set: Arc<KeySet>) -> Arc<Self> {
        Arc::new(Swappable {
            state: Mutex::new(Ok(set)),
        })
    }

    fn set(&self, state: Result<Arc<KeySet>, KeysUnavailable>) {
        *self.state.lock().unwrap() = state;
    }
}

impl KeySource for Swappable {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.state.lock().unwrap().clone()
    }

    fn can_refresh(&self) -> bool {
        false
    }
}

fn validator_over(source: &Arc<Swappable>) -> Validator {
    Validator::builder(RESOURCE)
        .issuer_shared(ISSUER, Arc::clone(source) as Arc<dyn KeySource>)
        .build()
        .unwrap()
}

fn key_set(issuer: &TestIssuer) -> Arc<KeySet> {
    // `keys()` parses the published JWKS afresh: a new `KeySet` object every call.
    issuer.keys().current().unwrap()
}

// 1. An expired token never hits.

#[test]
fn an_expired_token_never_hits_without_leeway() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b.leeway(0));
    let exp = now_i64() + 1000;
    let token = issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .claim("exp", exp)
        .sign();

    assert_eq!(kind(&validator, &token, exp - 10), Ok(()));
    assert_eq!(validator.cached_tokens(), Some(1), "stored");
    assert_eq!(
        kind(&validator, &token, exp - 1),
        Ok(()),
        "last valid second"
    );
    for now in [exp, exp + 1, exp + 1000] {
        assert_eq!(
            kind(&validator, &token, now),
            Err(TokenErrorKind::Expired),
            "at exp{:+}",
            now - exp
        );
    }
}

#[test]
fn an_expired_token_never_hits_with_the_default_leeway() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let leeway = i64::try_from(mcp_server_auth::validate::DEFAULT_LEEWAY_SECS).unwrap();
    let exp = now_i64() + 1000;
    let token = issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .claim("exp", exp)
        .sign();

    assert_eq!(kind(&validator, &token, exp - 10), Ok(()));
    assert_eq!(validator.cached_tokens(), Some(1));
    // Within the leeway the full check still accepts it (the entry itself stopped at `exp`).
    assert_eq!(kind(&validator, &token, exp + leeway - 1), Ok(()));
    for now in [exp + leeway, exp + leeway + 1, exp + 10_000] {
        assert_eq!(
            kind(&validator, &token, now),
            Err(TokenErrorKind::Expired),
            "at exp{:+}",
            now - exp
        );
    }
}

// 2. `nbf` and `iat` still apply when the clock steps back.

#[test]
fn nbf_still_applies_after_the_clock_steps_back() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let leeway = i64::try_from(mcp_server_auth::validate::DEFAULT_LEEWAY_SECS).unwrap();
    let base = now_i64();
    let nbf = base + 1000;
    let token = issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .claim("iat", base)
        .claim("nbf", nbf)
        .claim("exp", base + 3600)
        .sign();

    assert_eq!(kind(&validator, &token, nbf + 5), Ok(()));
    assert_eq!(validator.cached_tokens(), Some(1));
    assert_eq!(
        kind(&validator, &token, nbf - leeway),
        Ok(()),
        "earliest second"
    );
    for now in [nbf - leeway - 1, nbf - leeway - 100, base] {
        assert_eq!(
            kind(&validator, &token, now),
            Err(TokenErrorKind::NotYetValid),
            "at nbf{:+}",
            now - nbf
        );
    }
    assert_eq!(kind(&validator, &token, nbf + 5), Ok(()), "still stored");
}

#[test]
fn iat_still_applies_after_the_clock_steps_back() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let leeway = i64::try_from(mcp_server_auth::validate::DEFAULT_LEEWAY_SECS).unwrap();
    let iat = now_i64() + 1000;
    let token = issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .claim("iat", iat)
        .claim("exp", iat + 3600)
        .sign();

    assert_eq!(kind(&validator, &token, iat), Ok(()));
    assert_eq!(validator.cached_tokens(), Some(1));
    assert_eq!(
        kind(&validator, &token, iat - leeway - 1),
        Err(TokenErrorKind::IssuedInFuture)
    );
}

// 3. A token differing in one byte is never a hit.

#[test]
fn a_token_differing_in_one_byte_never_hits() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let now = unix_now();
    let token = issuer.token().audience(RESOURCE).scope("mcp:tools").sign();
    println!("token length: {} bytes", token.len());
    validator.validate(&token, now).unwrap();
    assert_eq!(validator.cached_tokens(), Some(1));

    let bytes = token.as_bytes();
    let mut variants = 0;
    for position in 0..bytes.len() {
        // Every other base64url character (a dot's position: every character) at this spot.
        for &replacement in BASE64URL {
            if replacement == bytes[position] {
                continue;
            }
            let mut variant = bytes.to_vec();
            variant[position] = replacement;
            let variant = String::from_utf8(variant).unwrap();
            assert!(
                validator.validate(&variant, now).is_err(),
                "byte {position} replaced was accepted"
            );
            variants += 1;
        }
    }
    for &extra in BASE64URL.iter().chain(b".=") {
        let appended = format!("{token}{}", char::from(extra));
        assert!(
            validator.validate(&appended, now).is_err(),
            "{:?} appended was accepted",
            char::from(extra)
        );
    }
    let dropped = &token[..token.len() - 1];
    assert!(
        validator.validate(dropped, now).is_err(),
        "last byte dropped"
    );
    let dropped_first = &token[1..];
    assert!(
        validator.validate(dropped_first, now).is_err(),
        "first byte dropped"
    );

    println!("{variants} one-byte variants rejected");
    assert!(variants > 60 * bytes.len());
    assert!(
        validator.validate(&token, now).is_ok(),
        "the original still hits"
    );
    assert_eq!(validator.cached_tokens(), Some(1), "no variant was stored");
}

// 4. A key removed from the JWKS is rejected after the next key-set change.

#[tokio::test]
async fn a_retired_key_is_rejected_after_the_key_set_changes() {
    let issuer = TestIssuer::start().await;
    let (listener, resource) = bind().await;
    let auth = McpAuth::builder(resource.clone())
        .authorization_server(issuer.issuer())
        .require_scope("mcp:tools")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    serve(listener, &auth);
    let send = |token: String| {
        let resource = resource.clone();
        async move {
            client()
                .post(resource)
                .header("authorization", format!("Bearer {token}"))
                .body("{}")
                .send()
                .await
                .unwrap()
        }
    };
    let mint = || {
        issuer
            .token()
            .audience(resource.clone())
            .scope("mcp:tools")
            .sign()
    };
    let cached = || auth.validator().cached_tokens();

    let old_kid = issuer.kid().to_owned();
    let token_a = mint();
    assert_eq!(send(token_a.clone()).await.status(), 200, "first: verified");
    assert_eq!(cached(), Some(1));
    assert_eq!(send(token_a.clone()).await.status(), 200, "second: a hit");
    assert_eq!(cached(), Some(1));
    assert_eq!(issuer.jwks_fetches(), 1);

    let new_kid = issuer.rotate();
    issuer.retire(&old_kid);
    assert_eq!(issuer.published_kids(), [new_kid]);
    let token_b = mint();
    assert_eq!(
        send(token_b.clone()).await.status(),
        200,
        "unknown kid: refresh, then verified with the new set"
    );
    assert_eq!(issuer.jwks_fetches(), 2, "one refresh for the new kid");
    // Storing B under the new key set dropped A's entry, stored under the old set.
    assert_eq!(cached(), Some(1), "A's entry flushed when B was stored");

    let response = send(token_a.clone()).await;
    assert_eq!(response.status(), 401, "the old key is gone");
    assert_eq!(challenge(&response).get("error"), Some("invalid_token"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        auth.validator()
            .validate(&token_a, unix_now())
            .unwrap_err()
            .kind(),
        TokenErrorKind::UnknownKey
    );
    assert_eq!(cached(), Some(1), "a rejection stores nothing");
    assert_eq!(send(token_b).await.status(), 200, "B still accepted");
}

// 5. A key-set change through a custom source.

#[test]
fn a_swapped_key_set_without_the_key_rejects_a_stored_token() {
    let issuer = TestIssuer::new(ISSUER);
    let stranger = TestIssuer::new(ISSUER);
    let source = Swappable::new(key_set(&issuer));
    let validator = validator_over(&source);
    let now = unix_now();
    let token = issuer.token().audience(RESOURCE).scope("mcp:tools").sign();

    validator.validate(&token, now).unwrap();
    validator.validate(&token, now).unwrap();
    assert_eq!(validator.cached_tokens(), Some(1));

    // A set without the token's key: no entry answers, the full check finds no key.
    source.set(Ok(key_set(&stranger)));
    assert_eq!(
        kind(&validator, &token, now_i64()),
        Err(TokenErrorKind::UnknownKey)
    );
    assert_eq!(
        kind(&validator, &token, now_i64()),
        Err(TokenErrorKind::UnknownKey),
        "still rejected"
    );

    // A new set object holding the same key: verified afresh and stored again.
    source.set(Ok(key_set(&issuer)));
    let verified = validator.validate(&token, now).unwrap();
    assert_eq!(verified.subject(), Some("test-user"));
    assert_eq!(
        validator.cached_tokens(),
        Some(1),
        "re-stored under the new set; the old set's entry dropped"
    );
}

// 6. Keys unavailable: no entry answers.

#[test]
fn unavailable_keys_are_never_answered_from_the_cache() {
    let issuer = TestIssuer::new(ISSUER);
    let source = Swappable::new(key_set(&issuer));
    let validator = validator_over(&source);
    let now = unix_now();
    let token = issuer.token().audience(RESOURCE).scope("mcp:tools").sign();
    validator.validate(&token, now).unwrap();
    assert_eq!(validator.cached_tokens(), Some(1));

    source.set(Err(KeysUnavailable::new(5)));
    let error = validator.validate(&token, now).unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::KeysUnavailable);
    assert_eq!(error.retry_after_secs(), Some(5));
}

// 7. Capacity bounds the cache.

#[test]
fn the_cache_stays_within_its_capacity() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| {
        b.token_cache(TokenCacheConfig::new().capacity(16))
    });
    let now = unix_now();
    for i in 0..200 {
        let token = issuer
            .token()
            .audience(RESOURCE)
            .scope("mcp:tools")
            .subject(format!("user-{i}"))
            .sign();
        let verified = validator.validate(&token, now).unwrap();
        assert_eq!(verified.subject(), Some(format!("user-{i}").as_str()));
        let cached = validator.cached_tokens().unwrap();
        assert!(cached <= 16, "{cached} entries after token {i}");
        assert!(cached >= 1, "token {i} not stored");
    }
}

// 7b. The byte bound holds too, with large tokens.

/// The byte bound of the tests below: room for a few dozen 12 KiB tokens.
const BYTE_BOUND: usize = 1024 * 1024;

/// Whether `token` is answered from the cache, observed through the `metrics` counter, with a
/// recorder local to this thread.
#[cfg(feature = "metrics")]
fn is_a_hit(validator: &Validator, token: &str, now: u64) -> bool {
    use mcp_server_auth::observe::counters;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || validator.validate(token, now).unwrap());
    snapshotter
        .snapshot()
        .into_vec()
        .iter()
        .any(|(key, _, _, value)| {
            let key = key.key();
            key.name() == counters::CACHE_LOOKUPS
                && key
                    .labels()
                    .any(|l| l.key() == "outcome" && l.value() == "hit")
                && matches!(value, DebugValue::Counter(n) if *n > 0)
        })
}

#[cfg(feature = "metrics")]
#[test]
fn large_tokens_stay_within_the_byte_bound_and_the_newest_is_always_kept() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| {
        b.token_cache(TokenCacheConfig::new().max_bytes(BYTE_BOUND))
    });
    let now = unix_now();
    let mut most = 0;
    for i in 0..150 {
        let token = large_token(&issuer, i);
        assert!(token.len() >= 12 * 1024, "{} bytes", token.len());
        validator.validate(&token, now).unwrap();
        let counted = validator.cached_bytes().unwrap();
        assert!(
            counted <= BYTE_BOUND as u64,
            "{counted} bytes counted after token {i}"
        );
        // Older entries are evicted to make room: the newest token is held, never refused.
        assert!(is_a_hit(&validator, &token, now), "token {i} not stored");
        most = most.max(validator.cached_tokens().unwrap());
    }
    // The bytes, not the capacity (10 000 entries), bounded the cache; and it was used.
    assert!((10..100).contains(&most), "at most {most} entries");
}

#[test]
fn large_tokens_hold_no_more_memory_than_the_byte_bound() {
    let issuer = TestIssuer::new(ISSUER);
    let keys = issuer.keys();
    let tokens: Vec<String> = (0..150).map(|i| large_token(&issuer, i)).collect();
    let now = unix_now();
    // Warm up lazily initialised state (logging callsites, crypto CPU detection).
    let _ = retained(TokenCacheConfig::disabled(), &keys, &tokens[..1], now, true);
    let off = retained(TokenCacheConfig::disabled(), &keys, &tokens, now, true);
    let bounded = TokenCacheConfig::new().max_bytes(BYTE_BOUND);
    let on = retained(bounded, &keys, &tokens, now, true);
    // Measured: what the cache keeps allocated, every token's claims read by a handler.
    let held = on.bytes - off.bytes;
    assert!(
        held <= i64::try_from(BYTE_BOUND).unwrap(),
        "{held} bytes held for {} entries",
        on.cached
    );
    assert!(on.counted <= BYTE_BOUND as u64);
    assert!(
        (10..tokens.len()).contains(&on.cached),
        "{} entries",
        on.cached
    );
}

// 8. Only successes are stored.

#[test]
fn only_successful_validations_are_stored() {
    let issuer = TestIssuer::new(ISSUER);
    let forger = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let now = unix_now();
    for i in 0..50 {
        let token = match i % 5 {
            // Signed with another key under this issuer's kid.
            0 => forger
                .token()
                .audience(RESOURCE)
                .scope("mcp:tools")
                .header("kid", issuer.kid())
                .sign(),
            1 => issuer
                .token()
                .audience("https://other.example.com/mcp")
                .scope("mcp:tools")
                .sign(),
            2 => issuer
                .token()
                .audience(RESOURCE)
                .scope("mcp:tools")
                .expires_in(-3600)
                .sign(),
            3 => issuer
                .token()
                .audience(RESOURCE)
                .claim("iss", "https://untrusted.example.com")
                .sign(),
            _ => issuer
                .token()
                .audience(RESOURCE)
                .claim("nbf", now_i64() + 3600)
                .sign(),
        };
        // Twice: a failure never becomes a stored success on retry either.
        for _ in 0..2 {
            assert!(validator.validate(&token, now).is_err(), "token {i}");
        }
        assert_eq!(validator.cached_tokens(), Some(0), "after token {i}");
    }
}

#[test]
fn tokens_accepted_only_by_the_leeway_are_not_stored() {
    let issuer = TestIssuer::new(ISSUER);
    let validator = build(issuer.keys(), |b| b);
    let now = now_i64();
    for past in [0, 1, 30, 59] {
        let token = issuer
            .token()
            .audience(RESOURCE)
            .claim("exp", now - past)
            .sign();
        assert_eq!(kind(&validator, &token, now), Ok(()), "exp now-{past}");
    }
    assert_eq!(validator.cached_tokens(), Some(0));
}

// 9. Settings that disable the cache.

#[test]
fn disabling_settings_turn_the_cache_off() {
    let issuer = TestIssuer::new(ISSUER);
    let token = issuer.token().audience(RESOURCE).sign();
    let off = [
        TokenCacheConfig::disabled(),
        TokenCacheConfig::new().capacity(0),
        TokenCacheConfig::new().max_age(Duration::from_millis(500)),
        TokenCacheConfig::new().max_age(Duration::ZERO),
        TokenCacheConfig::new().max_bytes(0),
    ];
    for config in off {
        assert!(!config.is_enabled(), "{config:?}");
        let validator = build(issuer.keys(), |b| b.token_cache(config));
        assert_eq!(validator.cached_tokens(), None, "{config:?}");
        validator.validate(&token, unix_now()).unwrap();
        assert_eq!(validator.cached_tokens(), None, "{config:?}");
    }
    let on = build(issuer.keys(), |b| {
        b.token_cache(TokenCacheConfig::new().max_age(Duration::from_millis(1500)))
    });
    on.validate(&token, unix_now()).unwrap();
    assert_eq!(on.cached_tokens(), Some(1), "one whole second is enough");

    // Through the layer's builder, too; on by default.
    let auth = |config: Option<TokenCacheConfig>| {
        let builder = McpAuth::builder(RESOURCE).issuer(ISSUER, issuer.keys());
        match config {
            Some(config) => builder.token_cache(config),
            None => builder,
        }
        .build()
        .unwrap()
    };
    assert_eq!(auth(None).validator().cached_tokens(), Some(0));
    assert_eq!(
        auth(Some(TokenCacheConfig::disabled()))
            .validator()
            .cached_tokens(),
        None
    );
}

// 11. Memory per entry.

const MEASURED_TOKENS: usize = 1000;

/// What validating every token with a validator built with `config` leaves allocated on this
/// thread (the validator is kept alive past the measurement).
struct Retained {
    bytes: i64,
    allocations: i64,
    /// Tokens the cache then holds.
    cached: usize,
    /// What they count against the cache's byte bound.
    counted: u64,
}

/// With `read_claims`, each verified token's [`claims`](mcp_server_auth::VerifiedToken::claims)
/// are read, as a handler would: the cache shares the token, so whatever that adds stays in
/// the entry.
fn retained(
    config: TokenCacheConfig,
    keys: &StaticKeys,
    tokens: &[String],
    now: u64,
    read_claims: bool,
) -> Retained {
    let mut kept = None;
    let info = allocation_counter::measure(|| {
        let validator = build(keys.clone(), |b| b.token_cache(config));
        for token in tokens {
            let verified = validator.validate(token, now).unwrap();
            if read_claims {
                assert!(verified.claims().contains_key("jti"));
            }
        }
        kept = Some(validator);
    });
    Retained {
        bytes: info.bytes_current,
        allocations: info.count_current,
        cached: kept.as_ref().unwrap().cached_tokens().unwrap_or(0),
        counted: kept.as_ref().unwrap().cached_bytes().unwrap_or(0),
    }
}

/// What one cache entry costs, for distinct tokens, in a cache large enough for them (its
/// table included: a full cache's cost per entry), and what it counts against the byte bound.
#[derive(Debug)]
struct EntryCost {
    bytes: i64,
    allocations: i64,
    counted: i64,
}

fn entry_cost(keys: &StaticKeys, tokens: &[String], read_claims: bool) -> EntryCost {
    let now = unix_now();
    // Warm up lazily initialised state (logging callsites, crypto CPU detection).
    let _ = retained(TokenCacheConfig::disabled(), keys, &tokens[..1], now, true);
    let off = retained(TokenCacheConfig::disabled(), keys, tokens, now, read_claims);
    assert_eq!(off.cached, 0);
    // Bounds far away, so that every token is held and each entry counts its own size (not
    // the bound's share of one entry, which would be more).
    let large = TokenCacheConfig::new()
        .capacity(usize::MAX)
        .max_bytes(1 << 30);
    let on = retained(large, keys, tokens, now, read_claims);
    assert_eq!(on.cached, tokens.len());
    let held = i64::try_from(on.cached).unwrap();
    EntryCost {
        bytes: (on.bytes - off.bytes) / held,
        allocations: (on.allocations - off.allocations) / held,
        counted: i64::try_from(on.counted).unwrap() / held,
    }
}

/// `count` group ids, as Entra ID or Keycloak put in large tokens.
fn groups(count: usize) -> Value {
    (0..count)
        .map(|i| Value::from(format!("{i:08x}-7c1e-4b5a-9f3d-0123456789ab")))
        .collect()
}

/// A token of about 12 KiB: `groups(230)`, distinct by `sub`.
fn large_token(issuer: &TestIssuer, i: usize) -> String {
    issuer
        .token()
        .audience(RESOURCE)
        .scope("mcp:tools")
        .subject(format!("user-{i:06}"))
        .claim("groups", groups(230))
        .sign()
}

#[test]
fn memory_per_entry_is_measured_and_bounded() {
    use base64::Engine as _;
    let rich = [
        ("email", Value::from("someone.with.a.long.name@example.com")),
        ("name", Value::from("Someone With A Long Name")),
        ("tenant", Value::from("tenant-0123456789abcdef")),
        (
            "groups",
            serde_json::json!(["engineering", "mcp-users", "on-call", "readers"]),
        ),
    ];
    let large = [("groups", groups(230))];
    type Case<'a> = (&'a str, Algorithm, &'a [(&'a str, Value)], usize, [i64; 2]);
    let cases: [Case<'_>; 4] = [
        (
            "typical",
            Algorithm::ES256,
            &[],
            MEASURED_TOKENS,
            ES256_ENTRY_BOUNDS,
        ),
        (
            "typical",
            Algorithm::RS256,
            &[],
            MEASURED_TOKENS,
            RS256_ENTRY_BOUNDS,
        ),
        (
            "more claims",
            Algorithm::ES256,
            &rich,
            MEASURED_TOKENS,
            RICH_ENTRY_BOUNDS,
        ),
        ("12 KiB", Algorithm::ES256, &large, 200, LARGE_ENTRY_BOUNDS),
    ];
    for (name, alg, extra, count, [bound, bound_read]) in cases {
        let issuer = TestIssuer::with_algorithm(ISSUER, alg);
        let tokens: Vec<String> = (0..count)
            .map(|i| {
                let builder = issuer
                    .token()
                    .audience(RESOURCE)
                    .scope("mcp:tools")
                    .subject(format!("user-{i:06}"))
                    .client_id("mcp-client-0123456789");
                extra
                    .iter()
                    .fold(builder, |b, (name, value)| b.claim(name, value.clone()))
                    .sign()
            })
            .collect();
        let len = tokens.iter().map(String::len).sum::<usize>() / tokens.len();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(tokens[0].split('.').nth(1).unwrap())
            .unwrap();
        let claims = serde_json::from_slice::<serde_json::Map<String, Value>>(&payload)
            .unwrap()
            .len();
        let keys = issuer.keys();
        let plain = entry_cost(&keys, &tokens, false);
        let read = entry_cost(&keys, &tokens, true);
        let len = i64::try_from(len).unwrap();
        let times = |bytes: i64| format!("{}.{:02}", bytes / len, bytes % len * 100 / len);
        println!(
            "{name} {alg}: token length {len} bytes ({claims} claims, {}-byte payload); per \
             entry: {} bytes in {} allocations ({} x the token length); with the claims read: \
             {} bytes in {} allocations ({} x); counted against the byte bound: {} bytes \
             ({} x)",
            payload.len(),
            plain.bytes,
            plain.allocations,
            times(plain.bytes),
            read.bytes,
            read.allocations,
            times(read.bytes),
            read.counted,
            times(read.counted),
        );
        assert!(plain.bytes > len, "an entry holds at least the token text");
        // The byte bound is honest: an entry counts at least what it holds, claims read.
        assert_eq!(plain.counted, read.counted, "counted once, when stored");
        assert!(
            read.bytes <= read.counted,
            "{name} {alg}: holds {} bytes, counts {}",
            read.bytes,
            read.counted
        );
        assert!(plain.bytes < bound, "{name} {alg}: {plain:?}");
        assert!(
            read.bytes < bound_read,
            "{name} {alg}, claims read: {read:?}"
        );
    }
}

/// About 1.5 × the figures measured (allocation sizes requested, without allocator overhead),
/// claims unread and read: 1189 and 1951 bytes (ES256), 1436 and 2197 (RS256), 1581 and 3969
/// (ES256, 12 claims), 22 152 and 39 376 (ES256, 12 KiB with 230 groups). Each counts more
/// against the byte bound: 4565, 4821, 6419 and 49 523 bytes.
const ES256_ENTRY_BOUNDS: [i64; 2] = [1750, 2950];
const RS256_ENTRY_BOUNDS: [i64; 2] = [2150, 3300];
const RICH_ENTRY_BOUNDS: [i64; 2] = [2400, 6000];
const LARGE_ENTRY_BOUNDS: [i64; 2] = [33_000, 59_000];
