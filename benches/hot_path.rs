//! The per-request cost of the layer, beside the floor it cannot go under.
//!
//! For each of ES256, RS256 (2048-bit) and EdDSA, in one run:
//!
//! * `<alg>/floor`: aws-lc-rs verifying the token's signature with a key parsed beforehand,
//!   which any validator that checks every request must pay;
//! * `<alg>/jsonwebtoken`: `jsonwebtoken::decode` with a prebuilt key and validation, the
//!   reference point;
//! * `<alg>/validate`: our [`Validator::validate`] with the cache off;
//! * `<alg>/stack_cache_off` and `<alg>/stack_cache_hit`: a request through the whole
//!   `McpAuth::layer()` stack around a no-op service;
//!
//! and once: `stack/no_layer`, the same request and no-op service without the layer (the
//! baseline), `stack/bearer_only_cache_hit`, the bearer stage alone, and micro-benchmarks of
//! bearer parsing and challenge building.
//!
//! `cargo bench --bench hot_path` runs it; add `-- --quick` for a short run.
//! `cargo bench --bench paired` measures the same cases paired, for the README table.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::hint::black_box;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{
    ISSUER, Noop, RESOURCE, auth, call, floor_key, issuer_and_token, jsonwebtoken_reference,
    request,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Uri, header};
use mcp_server_auth::bearer::extract;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::challenge::{Challenge, ErrorCode};
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth::validate::Validator;
use mcp_server_auth_dev::testing::unix_now;
use serde_json::Value;
use tower::Layer;

fn bench_algorithm(c: &mut Criterion, alg: Algorithm, name: &str) {
    let (issuer, token, authorization) = issuer_and_token(alg);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let mut group = c.benchmark_group(name);

    let key = floor_key(&issuer);
    group.bench_function("floor", |b| {
        b.iter(|| {
            key.verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap();
        });
    });

    let (key, validation) = jsonwebtoken_reference(&issuer);
    group.bench_function("jsonwebtoken", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(black_box(&token), &key, &validation).unwrap());
    });

    let validator = Validator::builder(RESOURCE)
        .issuer(ISSUER, issuer.keys())
        .token_cache(TokenCacheConfig::disabled())
        .build()
        .unwrap();
    let now = unix_now();
    group.bench_function("validate", |b| {
        b.iter(|| validator.validate(black_box(&token), now).unwrap());
    });

    for (label, cache) in [
        ("stack_cache_off", TokenCacheConfig::disabled()),
        ("stack_cache_hit", TokenCacheConfig::default()),
    ] {
        let mut service = auth(&issuer, cache).layer().layer(Noop);
        // Warm the cache (a no-op when it is off) and check the request passes.
        assert!(
            call(&mut service, request(&authorization))
                .status()
                .is_success()
        );
        group.bench_function(label, |b| {
            b.iter_batched(
                || request(&authorization),
                |request| call(&mut service, request),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_algorithm(c, Algorithm::ES256, "es256");
    bench_algorithm(c, Algorithm::RS256, "rs256");
    bench_algorithm(c, Algorithm::EdDSA, "eddsa");

    let (issuer, _, authorization) = issuer_and_token(Algorithm::ES256);
    let mut group = c.benchmark_group("stack");
    let mut service = Noop;
    group.bench_function("no_layer", |b| {
        b.iter_batched(
            || request(&authorization),
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    // The bearer stage alone (extraction, cache lookup, scope check, handing over the
    // token), without the other MCP guards.
    let mut service = auth(&issuer, TokenCacheConfig::default())
        .bearer_layer()
        .layer(Noop);
    assert!(
        call(&mut service, request(&authorization))
            .status()
            .is_success()
    );
    group.bench_function("bearer_only_cache_hit", |b| {
        b.iter_batched(
            || request(&authorization),
            |request| call(&mut service, request),
            BatchSize::SmallInput,
        );
    });
    group.finish();

    let mut group = c.benchmark_group("micro");
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, authorization.clone());
    let uri = Uri::from_static("/mcp");
    group.bench_function("bearer_extract", |b| {
        b.iter(|| extract(black_box(&headers), black_box(&uri)));
    });
    group.bench_function("challenge_build", |b| {
        b.iter(|| {
            Challenge::bearer()
                .error(ErrorCode::InsufficientScope)
                .error_description("The access token lacks a scope this request needs")
                .scope(black_box(["mcp:tools", "mcp:admin"]))
                .resource_metadata(black_box(
                    "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
                ))
                .to_header_value()
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
