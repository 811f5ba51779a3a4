//! HTTP load benchmark: the same axum endpoint served plain and behind the [`McpAuth`] layer,
//! loaded over real sockets with [`wrk`](https://github.com/wg/wrk).
//!
//! ```text
//! cargo bench --bench http_load               # 10 s per run
//! cargo bench --bench http_load -- --quick    # 2 s per run
//! LOAD_SECS=30 cargo bench --bench http_load  # 30 s per run
//! benches/http_load.sh                                           # installs wrk if missing
//! ```
//!
//! # What runs
//!
//! Three axum servers start in this process, each on its own `127.0.0.1:0` listener, all on one
//! Tokio multi-thread runtime:
//!
//! * **plain**: `POST /mcp` answers a fixed JSON-RPC response, `{"jsonrpc":"2.0","id":1,
//!   "result":{}}`, with no layer;
//! * **protected, cache on**: the same router wrapped in `McpAuth::layer` with the resource
//!   `http://127.0.0.1:<port>/mcp` (the listener is bound first to learn the port), an offline
//!   ES256 [`TestIssuer`], `require_scope("mcp:tools")`, `allow_http_loopback(true)` and the
//!   verified-token cache at its default (on): after the first request of each connection the
//!   token costs a hash lookup;
//! * **protected, cache off**: the same with `token_cache(TokenCacheConfig::disabled())`:
//!   every request verifies the ES256 signature.
//!
//! Before loading, each server is checked with one request: the plain one answers `200`, the
//! protected ones `200` with the token and `401` without it (so the layer is really there).
//!
//! Each server is then loaded with
//!
//! ```text
//! wrk -t2 -c8 -d<secs>s --latency -s <script.lua> http://127.0.0.1:<port>/mcp
//! ```
//!
//! 2 wrk threads, 8 keep-alive connections. The Lua script, written at run time to a
//! directory under [`std::env::temp_dir`] and removed afterwards, makes every request a
//! `POST` of `{"jsonrpc":"2.0","id":1,"method":"tools/list"}` with `Content-Type:
//! application/json`, `Accept: application/json, text/event-stream`, `MCP-Protocol-Version:
//! 2025-06-18` and `Authorization: Bearer <token>` (valid for an hour, `aud` the protected
//! server's resource, scope `mcp:tools`). The plain server gets the same header, which it
//! ignores, so both sides parse the same bytes and the difference is the layer's work. The
//! token itself is never printed, only its length.
//!
//! The runs come in **rounds** (3 by default): each round loads plain, protected with the
//! cache and protected without it, one after the other, starting one server later than the
//! round before, so no server always runs first or last. The table reports medians over the
//! rounds, and each ratio is the median of the per-round ratios (a protected run against the
//! plain run of its own round), so that drift on a noisy machine weighs on both sides of each
//! comparison. Every run is listed too, in order.
//!
//! # Threads
//!
//! The servers run on a **2-worker** Tokio runtime (`LOAD_SERVER_THREADS` changes it). On a
//! 2-core machine wrk's two threads share the cores with the server's two workers, so the
//! figures measure a CPU-bound machine where the client costs about as much as the server:
//! they are comparable with each other (same machine, same run), not absolute server
//! capacity. The machine line (`nproc`, CPU model) and the 1-minute load average before the
//! runs (other work on the machine skews everything) are printed with the table.
//!
//! # Output and exit status
//!
//! A markdown table: server | req/s | p50 | p99 | ratio to plain req/s, with latencies from
//! wrk's `--latency` distribution converted to µs, then every run and its exact `wrk` command.
//! Any non-2xx/3xx response (wrk's `Non-2xx or 3xx responses: N`) or socket error in any run,
//! protected or plain, makes the benchmark fail with exit status 1.
//!
//! # Options
//!
//! * `LOAD_SECS`: seconds per run (default 10) and `LOAD_ROUNDS`: rounds (default 3); a
//!   `--quick` argument (`cargo bench ... -- --quick`) makes the defaults 2 s and 1 round.
//!   Other arguments (`--bench`, criterion's options when `cargo bench` runs every bench) are
//!   ignored.
//! * `LOAD_SERVER_THREADS`: Tokio worker threads of the servers (default 2).
//! * `LOAD_REQUIRE_WRK=1`: fail if `wrk` is not installed. Otherwise a missing `wrk` prints
//!   how to install it (`apt-get install wrk`) and exits 0, so `cargo bench` still runs the
//!   other benches.
//!
//! Without `--bench` among the arguments (`cargo test --benches` / `--all-targets`, which run
//! bench targets as tests), only the servers' one-request checks run, not the load.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use mcp_server_auth::McpAuth;
use mcp_server_auth::cache::TokenCacheConfig;
use mcp_server_auth::keys::Algorithm;
use mcp_server_auth_dev::testing::TestIssuer;

const ISSUER: &str = "https://auth.example.com";
const SCOPE: &str = "mcp:tools";
const RESPONSE: &str = r#"{"jsonrpc":"2.0","id":1,"result":{}}"#;
const REQUEST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
const PROTOCOL_VERSION: &str = "2025-06-18";
const WRK_THREADS: u32 = 2;
const WRK_CONNECTIONS: u32 = 8;
const DEFAULT_SERVER_THREADS: usize = 2;
const DEFAULT_SECS: u64 = 10;
const QUICK_SECS: u64 = 2;
const DEFAULT_ROUNDS: usize = 3;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(message) => {
            eprintln!("http_load: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let args: Vec<String> = std::env::args().collect();
    let bench_mode = args.iter().skip(1).any(|a| a == "--bench");
    let quick = args.iter().skip(1).any(|a| a == "--quick");
    let secs = env_number("LOAD_SECS", if quick { QUICK_SECS } else { DEFAULT_SECS })?;
    let rounds = env_number("LOAD_ROUNDS", if quick { 1 } else { DEFAULT_ROUNDS })?;
    let server_threads = env_number("LOAD_SERVER_THREADS", DEFAULT_SERVER_THREADS)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(server_threads)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build the Tokio runtime: {e}"))?;
    let servers = runtime.block_on(start_servers());
    runtime.block_on(check_servers(&servers))?;

    if !bench_mode {
        println!("http_load: servers answer as expected (test mode: no load without --bench)");
        return Ok(ExitCode::SUCCESS);
    }

    let Some(wrk_version) = wrk_version() else {
        let require = std::env::var("LOAD_REQUIRE_WRK").is_ok_and(|v| v == "1");
        eprintln!(
            "http_load: `wrk` is not installed, so the HTTP load benchmark is skipped.\n\
             Install it with `sudo apt-get install -y wrk` (Debian/Ubuntu), `brew install wrk` \
             (macOS) or from https://github.com/wg/wrk, or run benches/http_load.sh, which \
             installs it when run as root."
        );
        return Ok(if require {
            eprintln!("http_load: LOAD_REQUIRE_WRK=1: failing");
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    };

    let dir =
        std::env::temp_dir().join(format!("mcp-server-auth-http-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = load(
        &servers,
        &dir,
        secs,
        rounds,
        server_threads,
        &wrk_version,
        &args,
    );
    // The scripts hold a (test) token: do not leave them behind.
    let _ = std::fs::remove_dir_all(&dir);
    drop(servers);
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

// ---------------------------------------------------------------------------------------------
// The servers.
// ---------------------------------------------------------------------------------------------

struct Servers {
    plain: SocketAddr,
    cached: SocketAddr,
    uncached: SocketAddr,
    /// The token each protected server accepts: its `aud` is that server's own resource.
    cached_token: String,
    uncached_token: String,
}

async fn mcp() -> ([(http::HeaderName, &'static str); 1], &'static str) {
    ([(http::header::CONTENT_TYPE, "application/json")], RESPONSE)
}

fn router() -> Router {
    Router::new().route("/mcp", post(mcp))
}

async fn bind() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn serve(listener: tokio::net::TcpListener, app: Router) {
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

/// A protected server; returns its address and a token it accepts.
async fn start_protected(issuer: &TestIssuer, cache: TokenCacheConfig) -> (SocketAddr, String) {
    let (listener, addr) = bind().await;
    let resource = format!("http://{addr}/mcp");
    let auth = McpAuth::builder(resource.clone())
        .issuer(issuer.issuer(), issuer.keys())
        .require_scope(SCOPE)
        .allow_http_loopback(true)
        .token_cache(cache)
        .build()
        .unwrap();
    serve(listener, router().layer(auth.layer()));
    let token = issuer
        .token()
        .audience(resource)
        .scope(SCOPE)
        .expires_in(3600)
        .sign();
    (addr, token)
}

async fn start_servers() -> Servers {
    let issuer = TestIssuer::with_algorithm(ISSUER, Algorithm::ES256);
    let (plain_listener, plain) = bind().await;
    serve(plain_listener, router());
    let (cached, cached_token) = start_protected(&issuer, TokenCacheConfig::default()).await;
    let (uncached, uncached_token) = start_protected(&issuer, TokenCacheConfig::disabled()).await;
    Servers {
        plain,
        cached,
        uncached,
        cached_token,
        uncached_token,
    }
}

/// One request per server, the way wrk will send them: the plain server and the protected
/// ones with their token answer 200 with the fixed body; the protected ones answer 401
/// without a token.
async fn check_servers(servers: &Servers) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let post = |addr: SocketAddr, token: Option<&str>| {
        let mut request = client
            .post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", PROTOCOL_VERSION)
            .body(REQUEST);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, body))
        }
    };
    let expect_ok = |name: &str, (status, body): (u16, String)| {
        if status == 200 && body == RESPONSE {
            Ok(())
        } else {
            Err(format!(
                "{name}: expected 200 {RESPONSE}, got {status} {body}"
            ))
        }
    };
    expect_ok("plain", post(servers.plain, None).await?)?;
    for (name, addr, token) in [
        (
            "protected (cache on)",
            servers.cached,
            &servers.cached_token,
        ),
        (
            "protected (cache off)",
            servers.uncached,
            &servers.uncached_token,
        ),
    ] {
        expect_ok(name, post(addr, Some(token)).await?)?;
        let (status, _) = post(addr, None).await?;
        if status != 401 {
            return Err(format!(
                "{name}: expected 401 without a token, got {status}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// wrk.
// ---------------------------------------------------------------------------------------------

/// `wrk -v`'s first line, or `None` if wrk cannot be run.
fn wrk_version() -> Option<String> {
    // `wrk -v` prints its version and usage, and exits with status 1.
    let output = Command::new("wrk").arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or("wrk").trim().to_owned())
}

/// Writes the Lua script of a run and returns its path.
fn write_script(dir: &Path, name: &str, token: &str) -> Result<PathBuf, String> {
    let mut script = String::new();
    script.push_str("wrk.method = \"POST\"\n");
    let _ = writeln!(script, "wrk.body = '{REQUEST}'");
    script.push_str("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
    script.push_str("wrk.headers[\"Accept\"] = \"application/json, text/event-stream\"\n");
    let _ = writeln!(
        script,
        "wrk.headers[\"MCP-Protocol-Version\"] = \"{PROTOCOL_VERSION}\""
    );
    // A JWT is base64url and dots: nothing to escape in a Lua string.
    let _ = writeln!(
        script,
        "wrk.headers[\"Authorization\"] = \"Bearer {token}\""
    );
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// What one wrk run reported.
#[derive(Debug, Clone)]
struct Run {
    label: &'static str,
    command: String,
    requests_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    requests: u64,
    non_2xx: u64,
    socket_errors: u64,
}

fn wrk(label: &'static str, script: &Path, addr: SocketAddr, secs: u64) -> Result<Run, String> {
    let args = [
        format!("-t{WRK_THREADS}"),
        format!("-c{WRK_CONNECTIONS}"),
        format!("-d{secs}s"),
        "--latency".to_owned(),
        "-s".to_owned(),
        script.display().to_string(),
        format!("http://{addr}/mcp"),
    ];
    let command = format!("wrk {}", args.join(" "));
    eprintln!("http_load: {label}: {command}");
    let output = Command::new("wrk")
        .args(&args)
        .output()
        .map_err(|e| format!("{label}: cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{label}: wrk failed ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse_wrk(label, command, &stdout).map_err(|e| format!("{label}: {e}; wrk said:\n{stdout}"))
}

/// Reads wrk's summary: `Requests/sec:`, the `--latency` distribution's `50%` and `99%`
/// lines, `N requests in`, `Non-2xx or 3xx responses:` and `Socket errors:`.
fn parse_wrk(label: &'static str, command: String, out: &str) -> Result<Run, String> {
    let mut requests_per_sec = None;
    let mut p50_us = None;
    let mut p99_us = None;
    let mut requests = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in out.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let (Some(first), second) = (words.next(), words.next()) else {
            continue;
        };
        match (first, second) {
            ("Requests/sec:", Some(value)) => {
                requests_per_sec = Some(
                    value
                        .parse::<f64>()
                        .map_err(|_| format!("bad Requests/sec {value:?}"))?,
                );
            }
            ("50%", Some(value)) => p50_us = Some(micros(value)?),
            ("99%", Some(value)) => p99_us = Some(micros(value)?),
            (count, Some("requests")) => {
                requests = Some(
                    count
                        .parse::<u64>()
                        .map_err(|_| format!("bad count {count:?}"))?,
                );
            }
            _ => {}
        }
        if let Some(count) = line.strip_prefix("Non-2xx or 3xx responses:") {
            non_2xx = count
                .trim()
                .parse()
                .map_err(|_| format!("bad non-2xx count {count:?}"))?;
        }
        if let Some(errors) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in errors.split(',') {
                let number = part.split_whitespace().nth(1).unwrap_or("0");
                socket_errors += number
                    .parse::<u64>()
                    .map_err(|_| format!("bad socket error count {part:?}"))?;
            }
        }
    }
    Ok(Run {
        label,
        command,
        requests_per_sec: requests_per_sec.ok_or("no Requests/sec line")?,
        p50_us: p50_us.ok_or("no 50% latency line (was --latency given?)")?,
        p99_us: p99_us.ok_or("no 99% latency line (was --latency given?)")?,
        requests: requests.ok_or("no request count")?,
        non_2xx,
        socket_errors,
    })
}

/// A wrk duration (`97.00us`, `1.23ms`, `2.00s`, `1.00m`, `1.00h`) in microseconds.
fn micros(value: &str) -> Result<f64, String> {
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("latency without a unit: {value:?}"))?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("bad latency {value:?}"))?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return Err(format!("unknown latency unit in {value:?}")),
    };
    Ok(number * scale)
}

// ---------------------------------------------------------------------------------------------
// The runs and the report.
// ---------------------------------------------------------------------------------------------

fn load(
    servers: &Servers,
    dir: &Path,
    secs: u64,
    rounds: usize,
    server_threads: usize,
    wrk_version: &str,
    args: &[String],
) -> Result<ExitCode, String> {
    // The plain server gets the same bytes on the wire, `Authorization` included (it ignores
    // it), so that the comparison measures the layer, not a longer request.
    let plain_script = write_script(dir, "plain", &servers.cached_token)?;
    let cached_script = write_script(dir, "cached", &servers.cached_token)?;
    let uncached_script = write_script(dir, "uncached", &servers.uncached_token)?;
    let targets: [(&'static str, &Path, SocketAddr); 3] = [
        ("plain", &plain_script, servers.plain),
        ("protected, cache on", &cached_script, servers.cached),
        ("protected, cache off", &uncached_script, servers.uncached),
    ];
    eprintln!(
        "http_load: {rounds} rounds of 3 runs, {secs} s each; bearer token of {} bytes",
        servers.cached_token.len()
    );

    let load_before = load_average();
    // runs[round][target]; each round starts one target later, so that no server always
    // runs first or last.
    let mut runs: Vec<[Option<Run>; 3]> = Vec::with_capacity(rounds);
    let mut order = Vec::new();
    for round in 0..rounds {
        let mut results: [Option<Run>; 3] = [None, None, None];
        for step in 0..targets.len() {
            let index = (round + step) % targets.len();
            let (label, script, addr) = targets[index];
            let run = wrk(label, script, addr, secs)?;
            order.push(run.clone());
            results[index] = Some(run);
        }
        runs.push(results);
    }
    let per_target = |index: usize| -> Vec<&Run> {
        runs.iter()
            .filter_map(|round| round[index].as_ref())
            .collect()
    };
    let plain = per_target(0);
    let median_of =
        |runs: &[&Run], value: fn(&Run) -> f64| median(runs.iter().map(|run| value(run)).collect());
    let plain_rps = median_of(&plain, |run| run.requests_per_sec);

    let mut report = String::new();
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "## HTTP load: POST /mcp, plain vs McpAuth layer ({rounds} rounds, {secs} s per run)"
    );
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "| server | req/s | p50 | p99 | ratio to plain req/s (median of per-round ratios) |"
    );
    let _ = writeln!(report, "|---|---:|---:|---:|---:|");
    for (index, (label, _, _)) in targets.iter().enumerate() {
        let these = per_target(index);
        let ratios: Vec<f64> = these
            .iter()
            .zip(&plain)
            .map(|(run, plain)| run.requests_per_sec / plain.requests_per_sec)
            .collect();
        let ratio_list = ratios
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            report,
            "| {label} | {} | {} | {} | {:.3} ({ratio_list}) |",
            rps(median_of(&these, |run| run.requests_per_sec)),
            us(median_of(&these, |run| run.p50_us)),
            us(median_of(&these, |run| run.p99_us)),
            median(ratios.clone()),
        );
    }
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "Medians over the rounds; a ratio compares runs of the same round. Plain median \
         {} req/s.",
        rps(plain_rps)
    );
    let _ = writeln!(report);
    let _ = writeln!(
        report,
        "Machine: nproc {}, CPU {}; server: Tokio multi-thread runtime, {server_threads} \
         workers; client: {wrk_version}, {WRK_THREADS} threads, {WRK_CONNECTIONS} keep-alive \
         connections, same machine.",
        nproc(),
        cpu_model()
    );
    let _ = writeln!(
        report,
        "1-minute load average before the runs: {load_before} (other work on the machine \
         skews the figures)."
    );
    let _ = writeln!(
        report,
        "Every request carries the same ES256 token of {} bytes; the protected servers \
         require_scope(\"{SCOPE}\"); latencies from wrk --latency, in µs.",
        servers.cached_token.len()
    );
    let _ = writeln!(report);
    let _ = writeln!(report, "Runs, in order:");
    let _ = writeln!(report);
    for (i, run) in order.iter().enumerate() {
        let _ = writeln!(
            report,
            "{}. {}: {} req/s, p50 {}, p99 {}, {} requests, non-2xx {}, socket errors {}  \n   `{}`",
            i + 1,
            run.label,
            rps(run.requests_per_sec),
            us(run.p50_us),
            us(run.p99_us),
            run.requests,
            run.non_2xx,
            run.socket_errors,
            run.command
        );
    }
    let _ = writeln!(report);
    let _ = writeln!(report, "Bench command: `{}`", args.join(" "));
    println!("{report}");

    let failed: Vec<_> = order
        .iter()
        .filter(|run| run.non_2xx > 0 || run.socket_errors > 0)
        .collect();
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        for run in failed {
            eprintln!(
                "http_load: FAILED: {}: {} non-2xx/3xx responses, {} socket errors",
                run.label, run.non_2xx, run.socket_errors
            );
        }
        Ok(ExitCode::FAILURE)
    }
}

/// A whole number above zero from the environment variable `name`, or `default` when unset.
fn env_number<T: std::str::FromStr + PartialOrd + From<u8>>(
    name: &str,
    default: T,
) -> Result<T, String> {
    match std::env::var(name) {
        Ok(value) => match value.trim().parse::<T>() {
            Ok(n) if n > T::from(0) => Ok(n),
            _ => Err(format!(
                "{name} must be a whole number above 0, got {value:?}"
            )),
        },
        Err(_) => Ok(default),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match (
        values.get(mid),
        mid.checked_sub(1).and_then(|i| values.get(i)),
    ) {
        (Some(upper), Some(lower)) if values.len().is_multiple_of(2) => (upper + lower) / 2.0,
        (Some(value), _) => *value,
        _ => f64::NAN,
    }
}

fn rps(value: f64) -> String {
    format!("{value:.0}")
}

fn us(value: f64) -> String {
    format!("{value:.0} µs")
}

fn nproc() -> usize {
    std::thread::available_parallelism().map_or(0, usize::from)
}

/// The 1-minute load average from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
