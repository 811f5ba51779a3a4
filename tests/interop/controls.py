"""Controls that need no MCP SDK, with plain HTTP against protected_server and the authorization
server fixture:

* `no-token`: a request without a token → 401 whose `WWW-Authenticate` names the protected
  resource metadata (`resource_metadata`), which serves the resource and the issuer;
* `wrong-audience`: a token the same authorization server issued for another resource → 401
  `invalid_token`;
* `key-rotation`: the authorization server rotates its signing key mid-run (`POST
  /_interop/rotate` on the fixture); a fresh token signed with the new key is accepted without
  restarting protected_server, and one signed before still is (the old key stays published).

    python controls.py --mcp http://127.0.0.1:PORT/mcp --metadata <url> --issuer http://127.0.0.1:PORT2

Prints PASS/FAIL lines; exit code 1 on any FAIL. Never prints a token (lengths only).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from urllib.parse import urlparse

import httpx

from interop_common import PlainOAuthClient, Reporter, jwt_parts

PROTOCOL_VERSION = "2025-11-25"


def challenge_params(header: str) -> dict[str, str]:
    """The auth-params of a `Bearer` challenge (quoted-string values unescaped)."""
    if not header.lower().startswith("bearer"):
        raise AssertionError(f"not a Bearer challenge: {header!r}")
    params = {}
    for name, quoted, token in re.findall(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))', header):
        params[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted or not token else token
    return params


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mcp", required=True)
    parser.add_argument("--metadata", required=True, help="the metadata URL protected_server printed")
    parser.add_argument("--issuer", required=True)
    args = parser.parse_args()
    report = Reporter()

    async with httpx.AsyncClient(timeout=10) as http:
        oauth = PlainOAuthClient(http, args.issuer)
        await oauth.discover_and_register()

        async def call(token: str | None, method: str = "tools/list", params: dict | None = None) -> httpx.Response:
            headers = {
                "accept": "application/json, text/event-stream",
                "content-type": "application/json",
                "mcp-protocol-version": PROTOCOL_VERSION,
            }
            if token is not None:
                headers["authorization"] = f"Bearer {token}"
            body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
            return await http.post(args.mcp, json=body, headers=headers)

        def accepted(response: httpx.Response, what: str) -> None:
            if response.status_code != 200:
                raise AssertionError(
                    f"{what}: HTTP {response.status_code} "
                    f"{response.headers.get('www-authenticate', '')} {response.text[:200]}"
                )

        async def no_token() -> str:
            response = await call(None)
            if response.status_code != 401:
                raise AssertionError(f"HTTP {response.status_code}, want 401")
            challenge = challenge_params(response.headers.get("www-authenticate", ""))
            if challenge.get("resource_metadata") != args.metadata:
                raise AssertionError(f"resource_metadata={challenge.get('resource_metadata')!r}, want {args.metadata!r}")
            prm = (await http.get(challenge["resource_metadata"])).json()
            if prm.get("resource") != args.mcp or args.issuer not in prm.get("authorization_servers", []):
                raise AssertionError(f"metadata does not name the resource and issuer: {prm}")
            return f"401, resource_metadata → {urlparse(args.metadata).path} (resource, issuer ok)"

        async def wrong_audience() -> str:
            other = args.mcp.rsplit("/", 1)[0] + "/other-resource"
            tokens = await oauth.tokens("mcp:tools", other)
            _, claims = jwt_parts(tokens["access_token"])
            if claims.get("aud") != other:
                raise AssertionError(f"the fixture issued aud={claims.get('aud')!r}, want {other!r}")
            response = await call(tokens["access_token"])
            if response.status_code != 401:
                raise AssertionError(f"a token for {other} got HTTP {response.status_code}, want 401")
            challenge = challenge_params(response.headers.get("www-authenticate", ""))
            if challenge.get("error") != "invalid_token":
                raise AssertionError(f"error={challenge.get('error')!r}, want invalid_token")
            if challenge.get("resource_metadata") != args.metadata:
                raise AssertionError(f"resource_metadata={challenge.get('resource_metadata')!r}")
            return f"aud={other} → 401 invalid_token"

        async def key_rotation() -> str:
            before = await oauth.tokens("mcp:tools", args.mcp)
            old_kid = jwt_parts(before["access_token"])[0]["kid"]
            accepted(await call(before["access_token"]), "before rotation")
            rotated = await http.post(f"{args.issuer}/_interop/rotate")
            rotated.raise_for_status()
            new_kid = rotated.json()["kid"]
            after = await oauth.tokens("mcp:tools", args.mcp)
            kid = jwt_parts(after["access_token"])[0]["kid"]
            if kid != new_kid or kid == old_kid:
                raise AssertionError(f"the fixture did not sign with the new key (kid {kid}, new {new_kid}, old {old_kid})")
            accepted(await call(after["access_token"]), "token signed with the new key")
            accepted(await call(before["access_token"]), "token signed before the rotation")
            return f"kid {old_kid} → {kid}: new token accepted, old token still accepted, no restart"

        await report.run("no-token", no_token)
        await report.run("wrong-audience", wrong_audience)
        await report.run("key-rotation", key_rotation)

    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
