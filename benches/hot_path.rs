//! Micro-benchmarks of the per-request work: bearer parsing, challenge building and token
//! validation (ES256, with the raw signature verify in the same run as the floor).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Uri, header};
use mcp_server_auth::bearer::extract;
use mcp_server_auth::challenge::{Challenge, ErrorCode};
use mcp_server_auth::keys::{Algorithm, KeySource};
use mcp_server_auth::testing::{TestIssuer, unix_now};
use mcp_server_auth::validate::Validator;

fn bench(c: &mut Criterion) {
    let issuer = TestIssuer::with_algorithm("https://auth.example.com", Algorithm::ES256);
    let resource = "https://mcp.example.com/mcp";
    let token = issuer.token().audience(resource).scope("mcp:tools").sign();

    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let uri = Uri::from_static("/mcp");
    c.bench_function("bearer_extract", |b| {
        b.iter(|| extract(black_box(&headers), black_box(&uri)));
    });

    c.bench_function("challenge_build", |b| {
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

    let keys = issuer.keys();
    let set = keys.current().unwrap();
    let key = set.iter().next().unwrap().clone();
    let (input, signature) = token.rsplit_once('.').unwrap();
    let signature = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap()
    };
    c.bench_function("es256_raw_verify_floor", |b| {
        b.iter(|| assert!(key.verify(Algorithm::ES256, black_box(input.as_bytes()), &signature)));
    });

    let validator = Validator::builder(resource)
        .issuer(issuer.issuer(), keys)
        .build()
        .unwrap();
    let now = unix_now();
    c.bench_function("es256_validate", |b| {
        b.iter(|| validator.validate(black_box(&token), now).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
