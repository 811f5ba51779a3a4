//! Heap allocations per request through the whole `McpAuth::layer()` stack, counted by a
//! counting allocator (`allocation-counter`, per thread): with no layer (the baseline), with
//! a cache hit, and with the cache off, for ES256, RS256 and EdDSA.
//!
//! `cargo bench --bench allocations` prints one line per case: allocations and bytes
//! allocated per request, the request's own construction excluded.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Noop, auth, call, issuer_and_token, request};
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::keys::Algorithm;
use tower::Layer;

const REQUESTS: u64 = 1_000;

/// Allocations and bytes per request, averaged over [`REQUESTS`] requests.
fn per_request<S, B>(service: &mut S, authorization: &http::HeaderValue) -> (f64, f64)
where
    S: tower::Service<
            http::Request<http_body_util::Full<bytes::Bytes>>,
            Response = http::Response<B>,
        >,
    S::Error: std::fmt::Debug,
{
    // Warm up: the cache entry, lazily built statics.
    drop(call(service, request(authorization)));
    let (mut count, mut bytes) = (0, 0);
    for _ in 0..REQUESTS {
        let request = request(authorization);
        let info = allocation_counter::measure(|| {
            let response = call(service, request);
            assert!(response.status().is_success());
            allocation_counter::opt_out(|| drop(response));
        });
        count += info.count_total;
        bytes += info.bytes_total;
    }
    (
        count as f64 / REQUESTS as f64,
        bytes as f64 / REQUESTS as f64,
    )
}

fn main() {
    let (_, _, authorization) = issuer_and_token(Algorithm::ES256);
    let (count, bytes) = per_request(&mut Noop, &authorization);
    println!("allocations/stack/no_layer: {count:.1} allocations, {bytes:.0} bytes per request");
    for (alg, name) in [
        (Algorithm::ES256, "es256"),
        (Algorithm::RS256, "rs256"),
        (Algorithm::EdDSA, "eddsa"),
    ] {
        let (issuer, _, authorization) = issuer_and_token(alg);
        for (label, cache) in [
            ("stack_cache_hit", TokenCacheConfig::default()),
            ("stack_cache_off", TokenCacheConfig::disabled()),
        ] {
            let mut service = auth(&issuer, cache).layer().layer(Noop);
            let (count, bytes) = per_request(&mut service, &authorization);
            println!(
                "allocations/{name}/{label}: {count:.1} allocations, {bytes:.0} bytes per request"
            );
        }
    }
}
