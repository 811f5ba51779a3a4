"""Opaque access tokens checked by RFC 7662 introspection, against a real authorization server:
oidc-provider (as.mjs) issuing opaque tokens for two resources, and protected_server configured
with `--config` to introspect them. Plain HTTP, no MCP SDK.

This scenario starts its own authorization server and its own protected_server(s) on free
loopback ports (the "server down" step stops that authorization server), so the one the other
scenarios use is never disturbed:

* the authorization server gets `AS_OPAQUE_RESOURCES` (the resource below and another one) and
  `AS_STATIC_CLIENTS`: `interop-rs-basic` and `interop-rs-post` (confidential clients the
  resource server introspects as, by client_secret_basic and client_secret_post) and
  `interop-minter` (confidential, allowed the client_credentials grant, scope
  `mcp:tools mcp:admin`); the secrets are random, made here, never printed;
* protected_server reads a TOML file (client_secret_basic) or, for the second one, a JSON file
  (client_secret_post): issuer = that authorization server, `verify_jwts = true`, introspection
  endpoint discovered from the metadata, `cache.max_age_secs = 3` (the revocation staleness
  bound), required scope `mcp:tools`, `admin_reset` needs `mcp:admin`.

Scenarios (each prints `PASS name (note)` or `FAIL name: reason`):

* `introspection-active`: a client_credentials opaque token for the resource → `tools/call
  whoami` 200, `client_id` is the minting client (oidc-provider's answer has no `sub`);
* `introspection-active-user`: an authorization-code opaque token (PKCE, `resource`) → whoami's
  `sub` is the fixture's user and `client_id` the registered client;
* `introspection-inactive`: an unknown opaque token → 401 `invalid_token`;
* `introspection-revoked-after-cache`: a token used once (200), revoked at the revocation
  endpoint (the authorization server then says `active: false`) → still 200 from the cache
  within `max_age_secs`, 401 `invalid_token` after it: the documented staleness bound;
* `introspection-wrong-audience`: an opaque token for another resource (introspection says
  `aud` = that resource) → 401 `invalid_token`;
* `introspection-step-up`: a token with only `mcp:tools` → `admin_reset` → 403
  `insufficient_scope` naming `mcp:admin`; with `mcp:tools mcp:admin` → 200;
* `introspection-client-secret-post`: the same active/inactive answers through a second
  protected_server authenticating by client_secret_post (JSON config);
* `introspection-server-down` (last): the authorization server is stopped; a token minted before
  but never used, and a token-shaped string never seen → 503 with `Retry-After`, within a few
  seconds, never 401 or 500.

    python introspection_scenario.py --node <node22> --as-script as.mjs --server <protected_server> [--logs <dir>]

Exit code 1 on any FAIL. Never prints a token or a secret (lengths only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from interop_common import TEST_USER, PlainOAuthClient, Reporter

PROTOCOL_VERSION = "2025-11-25"
MAX_AGE_SECS = 3
RS_BASIC = "interop-rs-basic"
RS_POST = "interop-rs-post"
MINTER = "interop-minter"


def challenge_params(header: str) -> dict[str, str]:
    """The auth-params of a `Bearer` challenge (quoted-string values unescaped)."""
    if not header.lower().startswith("bearer"):
        raise AssertionError(f"not a Bearer challenge: {header!r}")
    params = {}
    for name, quoted, token in re.findall(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))', header):
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted or not token else token
    return params


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toml_str(value: str) -> str:
    # A TOML basic string: JSON's escapes are a subset of TOML's for these (ASCII) values.
    return json.dumps(value)


class Process:
    """A server started in the background: stdout read for its start-up lines, stderr to a log."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.err = open(logs / f"{name}.err", "wb")  # noqa: SIM115 - closed in stop()
        self.out_path = logs / f"{name}.out"
        self.out = open(self.out_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.err, env=env, stdin=subprocess.DEVNULL)

    def wait_for(self, pattern: str, seconds: float = 30) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for line in self.out_path.read_text(errors="replace").splitlines():
                if re.match(pattern, line):
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {pattern!r} (exit {self.proc.poll()}; see {self.err.name})")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        self.err.close()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True, help="node 22")
    parser.add_argument("--as-script", required=True, help="as.mjs")
    parser.add_argument("--server", required=True, help="the protected_server binary")
    parser.add_argument("--logs", default=None, help="where the servers' logs go")
    args = parser.parse_args()
    logs = Path(args.logs or tempfile.mkdtemp(prefix="interop-introspection-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    report = Reporter()

    # Ports for the two protected_servers first: the authorization server must know their
    # resource URLs (opaque tokens) when it starts. (A port could be taken in between: unlikely.)
    port_basic, port_post = free_port(), free_port()
    resource = f"http://127.0.0.1:{port_basic}/mcp"
    resource_post = f"http://127.0.0.1:{port_post}/mcp"
    other_resource = f"http://127.0.0.1:{port_basic}/other-resource"

    secret = {name: secrets.token_urlsafe(32) for name in (RS_BASIC, RS_POST, MINTER)}
    static_clients = [
        {
            "client_id": RS_BASIC,
            "client_secret": secret[RS_BASIC],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": [],
            "response_types": [],
            "redirect_uris": [],
        },
        {
            "client_id": RS_POST,
            "client_secret": secret[RS_POST],
            "token_endpoint_auth_method": "client_secret_post",
            "grant_types": [],
            "response_types": [],
            "redirect_uris": [],
        },
        {
            "client_id": MINTER,
            "client_secret": secret[MINTER],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "scope": "mcp:tools mcp:admin",
        },
    ]

    config_dir = Path(tempfile.mkdtemp(prefix="interop-introspection-"))  # mode 0700: holds secrets
    processes: list[Process] = []
    try:
        env = dict(os.environ)
        env["AS_OPAQUE_RESOURCES"] = " ".join([resource, resource_post, other_resource])
        env["AS_STATIC_CLIENTS"] = json.dumps(static_clients)
        authz = Process("introspection-as", [args.node, args.as_script, "0"], env, logs)
        processes.append(authz)
        issuer = authz.wait_for(r"^issuer: ").removeprefix("issuer: ")
        print(f"authorization server (opaque tokens): {issuer}", file=sys.stderr, flush=True)

        def introspection(client: str, method: str) -> dict[str, Any]:
            return {
                "client_id": client,
                "client_secret": secret[client],
                "client_auth": method,
                "timeout_secs": 2,
                "cache": {"enabled": True, "max_age_secs": MAX_AGE_SECS},
            }

        # TOML (client_secret_basic) for the main server...
        basic = introspection(RS_BASIC, "client_secret_basic")
        toml = "\n".join([
            f"resource = {toml_str(resource)}",
            "allow_http_loopback = true",
            'scopes_supported = ["mcp:tools", "mcp:admin"]',
            'required_scopes = ["mcp:tools"]',
            'tool_scopes = { admin_reset = "mcp:admin" }',
            "",
            "[[issuers]]",
            f"issuer = {toml_str(issuer)}",
            "verify_jwts = true",
            "",
            "[issuers.introspection]",
            f"client_id = {toml_str(basic['client_id'])}",
            f"client_secret = {toml_str(basic['client_secret'])}",
            f"client_auth = {toml_str(basic['client_auth'])}",
            f"timeout_secs = {basic['timeout_secs']}",
            f"cache = {{ enabled = true, max_age_secs = {MAX_AGE_SECS} }}",
            "",
        ])
        toml_path = config_dir / "basic.toml"
        toml_path.write_text(toml)
        # ... JSON (client_secret_post) for the second.
        json_path = config_dir / "post.json"
        json_path.write_text(json.dumps({
            "resource": resource_post,
            "allow_http_loopback": True,
            "scopes_supported": ["mcp:tools", "mcp:admin"],
            "required_scopes": ["mcp:tools"],
            "tool_scopes": {"admin_reset": "mcp:admin"},
            "issuers": [{
                "issuer": issuer,
                "verify_jwts": True,
                "introspection": introspection(RS_POST, "client_secret_post"),
            }],
        }))

        server_env = dict(os.environ)
        server_env.setdefault("RUST_LOG", "mcp_server_auth=debug")
        servers = {}
        for name, path, port in [("introspection-server", toml_path, port_basic),
                                 ("introspection-server-post", json_path, port_post)]:
            server = Process(name, [args.server, "--config", str(path), "--port", str(port)], server_env, logs)
            processes.append(server)
            mcp = server.wait_for(r"^listening on ").removeprefix("listening on ")
            metadata = server.wait_for(r"^metadata: ").removeprefix("metadata: ")
            servers[name] = (mcp, metadata)
        mcp_url, metadata_url = servers["introspection-server"]
        mcp_post, _ = servers["introspection-server-post"]
        if mcp_url != resource or mcp_post != resource_post:
            raise RuntimeError(f"protected_server listens on {mcp_url} / {mcp_post}, want {resource} / {resource_post}")
        print(f"protected servers: {mcp_url} (basic, TOML), {mcp_post} (post, JSON)", file=sys.stderr, flush=True)

        async with httpx.AsyncClient(timeout=15) as http:
            meta = (await http.get(f"{issuer}/.well-known/oauth-authorization-server")).json()
            for field in ("introspection_endpoint", "revocation_endpoint"):
                if not meta.get(field):
                    raise RuntimeError(f"the authorization server's metadata has no {field}")
            if "client_credentials" not in meta.get("grant_types_supported", []):
                raise RuntimeError("the authorization server does not support client_credentials")

            async def mint(scope: str, for_resource: str) -> str:
                response = await http.post(
                    meta["token_endpoint"],
                    data={"grant_type": "client_credentials", "scope": scope, "resource": for_resource},
                    auth=(MINTER, secret[MINTER]),
                )
                if response.status_code != 200:
                    raise AssertionError(f"client_credentials: HTTP {response.status_code} {response.text[:200]}")
                body = response.json()
                token = body["access_token"]
                if token.count(".") == 2:
                    raise AssertionError(f"the fixture issued a JWT for {for_resource}, want an opaque token")
                return token

            async def introspect_at_as(token: str) -> dict[str, Any]:
                """What the authorization server itself says (as the resource server's client)."""
                response = await http.post(
                    meta["introspection_endpoint"],
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=(RS_BASIC, secret[RS_BASIC]),
                )
                response.raise_for_status()
                return response.json()

            async def call(url: str, token: str, tool: str = "whoami") -> httpx.Response:
                headers = {
                    "accept": "application/json, text/event-stream",
                    "content-type": "application/json",
                    "mcp-protocol-version": PROTOCOL_VERSION,
                    "authorization": f"Bearer {token}",
                }
                body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}}
                return await http.post(url, json=body, headers=headers)

            def expect(response: httpx.Response, status: int, what: str) -> None:
                if response.status_code != status:
                    raise AssertionError(
                        f"{what}: HTTP {response.status_code}, want {status} "
                        f"({response.headers.get('www-authenticate', '')} {response.text[:200]})"
                    )

            def expect_error(response: httpx.Response, status: int, error: str, what: str) -> dict[str, str]:
                expect(response, status, what)
                challenge = challenge_params(response.headers.get("www-authenticate", ""))
                if challenge.get("error") != error:
                    raise AssertionError(f"{what}: error={challenge.get('error')!r}, want {error}")
                return challenge

            def whoami(response: httpx.Response) -> dict[str, Any]:
                expect(response, 200, "whoami")
                result = response.json().get("result", {})
                if result.get("isError"):
                    raise AssertionError(f"whoami failed: {result}")
                return json.loads(result["content"][0]["text"])

            async def active() -> str:
                token = await mint("mcp:tools", resource)
                answer = await introspect_at_as(token)
                if not answer.get("active") or answer.get("aud") != resource:
                    raise AssertionError(f"the fixture's own introspection: active={answer.get('active')}, aud={answer.get('aud')!r}")
                who = whoami(await call(mcp_url, token))
                if who.get("client_id") != MINTER:
                    raise AssertionError(f"whoami client_id={who.get('client_id')!r}, want {MINTER}")
                if who.get("iss") != issuer or "mcp:tools" not in who.get("scopes", []):
                    raise AssertionError(f"whoami iss={who.get('iss')!r} scopes={who.get('scopes')!r}")
                fields = ", ".join(sorted(answer))
                return (f"opaque token ({len(token)} chars) → 200, whoami client_id={who['client_id']} "
                        f"sub={who.get('sub')!r}; oidc-provider's answer: {fields}")

            async def active_user() -> str:
                oauth = PlainOAuthClient(http, issuer)
                await oauth.discover_and_register()
                tokens = await oauth.tokens("mcp:tools", resource)
                token = tokens["access_token"]
                if token.count(".") == 2:
                    raise AssertionError("the fixture issued a JWT, want an opaque token")
                answer = await introspect_at_as(token)
                who = whoami(await call(mcp_url, token))
                if who.get("sub") != TEST_USER or who.get("client_id") != oauth.client["client_id"]:
                    raise AssertionError(f"whoami sub={who.get('sub')!r} client_id={who.get('client_id')!r}")
                return (f"authorization code + PKCE, opaque token → 200, whoami sub={who['sub']}, client_id = the "
                        f"registered client; oidc-provider's answer: {', '.join(sorted(answer))}")

            async def inactive() -> str:
                token = secrets.token_urlsafe(32)  # shaped like oidc-provider's, never issued
                expect_error(await call(mcp_url, token), 401, "invalid_token", "unknown opaque token")
                return "unknown opaque token → active:false → 401 invalid_token"

            async def revoked_after_cache() -> str:
                token = await mint("mcp:tools", resource)
                first = await call(mcp_url, token)
                cached_at = time.monotonic()
                expect(first, 200, "before revocation")
                revoked = await http.post(
                    meta["revocation_endpoint"],
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=(MINTER, secret[MINTER]),
                )
                expect(revoked, 200, "revocation")
                if (await introspect_at_as(token)).get("active") is not False:
                    raise AssertionError("the authorization server still says active after revocation")
                second = await call(mcp_url, token)
                stale_for = time.monotonic() - cached_at
                # The entry ends max_age whole seconds after the (whole) second it was stored in:
                # a hit is certain only within max_age - 1 seconds.
                if stale_for >= MAX_AGE_SECS - 1:
                    raise AssertionError(f"too slow to observe the cache ({stale_for:.1f} s)")
                expect(second, 200, "revoked, within the cache bound")
                await asyncio.sleep(max(0.0, MAX_AGE_SECS + 0.5 - (time.monotonic() - cached_at)))
                third = await call(mcp_url, token)
                after = time.monotonic() - cached_at
                expect_error(third, 401, "invalid_token", f"revoked, {after:.1f} s after caching")
                return (f"revoked at the AS (it says active:false) → still 200 {stale_for:.2f} s later from the cache "
                        f"(documented staleness bound: cache.max_age_secs = {MAX_AGE_SECS}) → 401 invalid_token "
                        f"{after:.1f} s after caching")

            async def wrong_audience() -> str:
                token = await mint("mcp:tools", other_resource)
                answer = await introspect_at_as(token)
                if answer.get("aud") != other_resource or not answer.get("active"):
                    raise AssertionError(f"the fixture's own introspection: active={answer.get('active')}, aud={answer.get('aud')!r}")
                challenge = expect_error(await call(mcp_url, token), 401, "invalid_token", "token for another resource")
                if challenge.get("resource_metadata") != metadata_url:
                    raise AssertionError(f"resource_metadata={challenge.get('resource_metadata')!r}")
                return f"active, aud={other_resource} → 401 invalid_token"

            async def step_up() -> str:
                narrow = await mint("mcp:tools", resource)
                challenge = expect_error(await call(mcp_url, narrow, "admin_reset"), 403, "insufficient_scope",
                                         "admin_reset with mcp:tools only")
                if "mcp:admin" not in challenge.get("scope", "").split():
                    raise AssertionError(f"challenge scope={challenge.get('scope')!r}, want mcp:admin in it")
                wide = await mint("mcp:tools mcp:admin", resource)
                expect(await call(mcp_url, wide, "admin_reset"), 200, "admin_reset with mcp:admin")
                return f"mcp:tools → 403 insufficient_scope (scope={challenge['scope']!r}); mcp:tools mcp:admin → 200"

            async def client_secret_post() -> str:
                token = await mint("mcp:tools", resource_post)
                who = whoami(await call(mcp_post, token))
                if who.get("client_id") != MINTER:
                    raise AssertionError(f"whoami client_id={who.get('client_id')!r}")
                expect_error(await call(mcp_post, secrets.token_urlsafe(32)), 401, "invalid_token", "unknown token")
                return "JSON config, client_secret_post: active → 200, unknown → 401 invalid_token"

            async def server_down() -> str:
                unused = await mint("mcp:tools", resource)  # minted now, never sent before the stop
                authz.proc.terminate()
                authz.proc.wait(5)
                notes = []
                for what, token in [("minted before the stop, never used", unused),
                                    ("never issued", secrets.token_urlsafe(32))]:
                    started = time.monotonic()
                    response = await call(mcp_url, token)
                    took = time.monotonic() - started
                    if response.status_code != 503:
                        raise AssertionError(
                            f"{what}: HTTP {response.status_code}, want 503 "
                            f"({response.headers.get('www-authenticate', '')} {response.text[:200]})"
                        )
                    retry_after = response.headers.get("retry-after")
                    if not retry_after or not retry_after.isdigit():
                        raise AssertionError(f"{what}: 503 without a numeric Retry-After ({retry_after!r})")
                    if took > 5:
                        raise AssertionError(f"{what}: took {took:.1f} s")
                    notes.append(f"{what} → 503 Retry-After: {retry_after} in {took:.2f} s")
                return "; ".join(notes)

            await report.run("introspection-active", active)
            await report.run("introspection-active-user", active_user)
            await report.run("introspection-inactive", inactive)
            await report.run("introspection-revoked-after-cache", revoked_after_cache)
            await report.run("introspection-wrong-audience", wrong_audience)
            await report.run("introspection-step-up", step_up)
            await report.run("introspection-client-secret-post", client_secret_post)
            await report.run("introspection-server-down", server_down)  # last: stops the AS
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(config_dir, ignore_errors=True)

    return 1 if report.failed else 0


def run() -> int:
    try:
        return asyncio.run(main())
    except Exception as error:  # noqa: BLE001 - the set-up failed: one FAIL line says why
        import traceback

        traceback.print_exc(file=sys.stderr)
        print(f"FAIL introspection-setup: {type(error).__name__}: {' '.join(str(error).split())[:400]}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(run())
