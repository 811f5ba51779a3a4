#!/usr/bin/env bash
# HTTP load benchmark of mcp-server-auth: the same axum `POST /mcp` endpoint served
#   1. plain (no layer),
#   2. behind the McpAuth layer with the verified-token cache on (the default),
#   3. behind the McpAuth layer with the cache off (an ES256 verify per request),
# loaded in turn with wrk (2 threads, 8 keep-alive connections, LOAD_SECS seconds per run,
# LOAD_ROUNDS rounds of all three; medians over the rounds, ratios within each round).
# Prints a markdown table: server | req/s | p50 | p99 | ratio to plain req/s, the machine
# (nproc, CPU model) and the exact wrk commands. Exits non-zero if any run got a non-2xx/3xx
# response or a socket error. Details: the doc comment of benches/http_load.rs.
#
# Requirements:
#   * a Rust toolchain (cargo);
#   * wrk (https://github.com/wg/wrk). If it is missing and this script runs as root, it is
#     installed with `apt-get install -y wrk` (Debian/Ubuntu); otherwise install it yourself
#     (`sudo apt-get install wrk`, `brew install wrk`).
#
# Usage:
#   benches/http_load.sh                 # 3 rounds of 3 runs of 10 s (about 90 s of load)
#   LOAD_SECS=30 LOAD_ROUNDS=5 benches/http_load.sh
#   benches/http_load.sh --quick         # 1 round of 2 s runs (unless set otherwise)
#   LOAD_SERVER_THREADS=4 benches/http_load.sh   # server Tokio workers (default 2)
# Extra arguments go to the benchmark binary. CARGO_TARGET_DIR and other cargo settings
# from the environment apply as usual.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "http_load.sh: wrk not found; installing it with apt-get" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
    else
        echo "http_load.sh: wrk not found. Install it (sudo apt-get install wrk, brew install wrk)" \
             "or run this script as root on Debian/Ubuntu." >&2
        exit 1
    fi
fi

# LOAD_SECS, LOAD_ROUNDS and LOAD_SERVER_THREADS pass through the environment;
# LOAD_REQUIRE_WRK=1 makes the bench fail rather than skip should wrk vanish in between.
export LOAD_REQUIRE_WRK=1
exec cargo bench --bench http_load -- "$@"
