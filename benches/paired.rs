//! The README "Performance" table: every per-request cost beside the floor it cannot go under,
//! measured **paired**, so that a noisy machine cannot tilt a ratio.
//!
//! Criterion (`cargo bench --bench hot_path`) measures one function for seconds, then the
//! next: on a shared machine the floor and the figure compared with it may run minutes apart,
//! under different load, and ratios of a few percent drown. Here every case is measured in
//! short slices (a few milliseconds each), the cases of a round one right after the other, for
//! many rounds. Each figure is the median over the rounds, and each ratio is the median of the
//! per-round ratios (a case against the floor of its own round), so slow drift cancels.
//! Slices are timed in the thread's CPU time, so time the scheduler gives other processes
//! does not count.
//!
//! For ES256, RS256 (2048) and EdDSA: the floor (aws-lc-rs verifying the token's signature with
//! a key parsed beforehand), `jsonwebtoken::decode` with a prebuilt key and validation, our
//! `Validator::validate` with the cache off, and the whole `McpAuth::layer()` stack around a
//! no-op service with the cache off and on a cache hit; once, the same request and service with
//! no layer (the baseline) and the bearer stage alone on a cache hit.
//!
//! ```text
//! cargo bench --bench paired              # 60 rounds
//! cargo bench --bench paired -- --quick   # 10 rounds
//! PAIRED_ROUNDS=200 cargo bench --bench paired
//! ```
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
use cpu_time::ThreadTime;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth::validate::Validator;
use mcp_server_auth_dev::testing::unix_now;
use serde_json::Value;
use tower::Layer;

/// Time per slice, roughly; each case picks its iteration count to fill it.
const SLICE_NANOS: f64 = 4_000_000.0;

/// One measured case: runs `iterations` operations and returns the thread CPU time they took,
/// in nanoseconds, excluding any per-operation setup.
type Case = Box<dyn FnMut(u64) -> f64>;

fn timed(mut op: impl FnMut() + 'static) -> Case {
    Box::new(move |iterations| {
        let start = ThreadTime::now();
        for _ in 0..iterations {
            op();
        }
        start.elapsed().as_nanos() as f64
    })
}

/// A case whose every operation needs a fresh input, built before the clock starts.
fn timed_with_input<I, O>(
    mut setup: impl FnMut() -> I + 'static,
    mut op: impl FnMut(I) -> O + 'static,
) -> Case {
    Box::new(move |iterations| {
        let inputs: Vec<I> = (0..iterations).map(|_| setup()).collect();
        let mut outputs = Vec::with_capacity(inputs.len());
        let start = ThreadTime::now();
        for input in inputs {
            outputs.push(op(input));
        }
        let elapsed = start.elapsed().as_nanos() as f64;
        drop(black_box(outputs));
        elapsed
    })
}

struct Measured {
    name: String,
    case: Case,
    iterations: u64,
    /// Nanoseconds per operation, one per round.
    samples: Vec<f64>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn cases() -> Vec<(String, Case)> {
    let mut cases: Vec<(String, Case)> = Vec::new();
    for (alg, name) in [
        (Algorithm::ES256, "es256"),
        (Algorithm::RS256, "rs256"),
        (Algorithm::EdDSA, "eddsa"),
    ] {
        let (issuer, token, authorization) = issuer_and_token(alg);
        let (signing_input, signature) = token.rsplit_once('.').unwrap();
        let signing_input = signing_input.to_owned();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();

        let key = floor_key(&issuer);
        cases.push((
            format!("{name}/floor"),
            timed(move || {
                key.verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                    .unwrap();
            }),
        ));

        let (key, validation) = jsonwebtoken_reference(&issuer);
        let jwt = token.clone();
        cases.push((
            format!("{name}/jsonwebtoken"),
            timed(move || {
                black_box(
                    jsonwebtoken::decode::<Value>(black_box(&jwt), &key, &validation).unwrap(),
                );
            }),
        ));

        let validator = Validator::builder(RESOURCE)
            .issuer(ISSUER, issuer.keys())
            .token_cache(TokenCacheConfig::disabled())
            .build()
            .unwrap();
        let now = unix_now();
        let jwt = token.clone();
        cases.push((
            format!("{name}/validate"),
            timed(move || {
                black_box(validator.validate(black_box(&jwt), now).unwrap());
            }),
        ));

        for (label, cache) in [
            ("stack_cache_off", TokenCacheConfig::disabled()),
            ("stack_cache_hit", TokenCacheConfig::default()),
        ] {
            let mut service = auth(&issuer, cache).layer().layer(Noop);
            assert!(
                call(&mut service, request(&authorization))
                    .status()
                    .is_success()
            );
            let authorization = authorization.clone();
            cases.push((
                format!("{name}/{label}"),
                timed_with_input(
                    move || request(&authorization),
                    move |r| call(&mut service, r),
                ),
            ));
        }
    }

    let (issuer, _, authorization) = issuer_and_token(Algorithm::ES256);
    let header = authorization.clone();
    cases.push((
        "stack/no_layer".to_owned(),
        timed_with_input(move || request(&header), |r| call(&mut Noop, r)),
    ));
    let mut service = auth(&issuer, TokenCacheConfig::default())
        .bearer_layer()
        .layer(Noop);
    assert!(
        call(&mut service, request(&authorization))
            .status()
            .is_success()
    );
    cases.push((
        "stack/bearer_only_cache_hit".to_owned(),
        timed_with_input(
            move || request(&authorization),
            move |r| call(&mut service, r),
        ),
    ));
    cases
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench targets as tests: build the cases, skip the timing.
        drop(cases());
        println!("paired: cases build (test mode: nothing timed without --bench)");
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let rounds: usize = std::env::var("PAIRED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(if quick { 10 } else { 60 });

    let mut measured: Vec<Measured> = cases()
        .into_iter()
        .map(|(name, mut case)| {
            // Warm up and size the slice.
            let mut iterations = 1;
            loop {
                let nanos = case(iterations);
                if nanos > SLICE_NANOS / 4.0 || iterations > 1 << 20 {
                    let per_op = nanos / iterations as f64;
                    iterations = ((SLICE_NANOS / per_op) as u64).max(1);
                    break;
                }
                iterations *= 4;
            }
            Measured {
                name,
                case,
                iterations,
                samples: Vec::with_capacity(rounds),
            }
        })
        .collect();

    for round in 0..rounds {
        // Start each round one case later, so no case always runs first.
        let count = measured.len();
        for step in 0..count {
            let m = &mut measured[(round + step) % count];
            let nanos = (m.case)(m.iterations);
            m.samples.push(nanos / m.iterations as f64);
        }
    }

    let find = |name: &str| {
        measured
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    };
    let per_round_ratio = |a: &Measured, b: &Measured| {
        median(
            a.samples
                .iter()
                .zip(&b.samples)
                .map(|(x, y)| x / y)
                .collect(),
        )
    };
    let per_round_difference = |a: &Measured, b: &Measured| {
        median(
            a.samples
                .iter()
                .zip(&b.samples)
                .map(|(x, y)| x - y)
                .collect(),
        )
    };
    let fmt = |ns: f64| {
        if ns >= 1000.0 {
            format!("{:.2} µs", ns / 1000.0)
        } else {
            format!("{ns:.0} ns")
        }
    };

    let algorithms = [
        ("es256", "ES256"),
        ("rs256", "RS256 (2048)"),
        ("eddsa", "EdDSA"),
    ];
    let baseline = find("stack/no_layer");
    println!();
    println!(
        "| median per request | {} |",
        algorithms.map(|(_, label)| label).join(" | ")
    );
    println!("|---|---:|---:|---:|");
    for (label, case) in [
        ("floor: aws-lc-rs verify, parsed key", "floor"),
        ("`jsonwebtoken::decode`, prebuilt key", "jsonwebtoken"),
        ("`Validator::validate`, cache off", "validate"),
        (
            "whole `McpAuth::layer()` stack, cache off",
            "stack_cache_off",
        ),
        (
            "whole `McpAuth::layer()` stack, cache hit",
            "stack_cache_hit",
        ),
    ] {
        let cells: Vec<String> = algorithms
            .iter()
            .map(|(alg, _)| {
                let floor = find(&format!("{alg}/floor"));
                let this = find(&format!("{alg}/{case}"));
                let value = median(this.samples.clone());
                if case == "stack_cache_hit" {
                    format!(
                        "{} (+{} over no layer)",
                        fmt(value),
                        fmt(per_round_difference(this, baseline))
                    )
                } else {
                    format!(
                        "{} ({:.3}× floor)",
                        fmt(value),
                        per_round_ratio(this, floor)
                    )
                }
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
    let bearer = find("stack/bearer_only_cache_hit");
    println!(
        "| no layer: same request, no-op service (baseline) | {} | | |",
        fmt(median(baseline.samples.clone()))
    );
    println!(
        "| bearer stage alone, cache hit | {} (+{} over no layer) | | |",
        fmt(median(bearer.samples.clone())),
        fmt(per_round_difference(bearer, baseline))
    );
    println!();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "{cores} cores, {cpu}; {rounds} rounds of ~4 ms slices per case; medians over rounds, \
         ratios and differences taken within each round; thread CPU time (`cargo bench --bench paired`)."
    );
}
