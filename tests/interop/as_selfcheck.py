"""Checks the authorization server fixture itself, with plain HTTP and no MCP SDK: RFC 8414
metadata, open dynamic registration, PKCE S256 required, headless login/consent, RFC 9068 JWT
access tokens whose `aud` is the requested resource, refresh tokens.

    python as_selfcheck.py --issuer http://127.0.0.1:PORT --resource http://127.0.0.1:PORT2/mcp

Prints PASS/FAIL lines; exit code 1 on any FAIL. Never prints a token (lengths only).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import httpx

from interop_common import TEST_USER, PlainOAuthClient, Reporter, check_rfc9068


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--resource", required=True)
    args = parser.parse_args()
    report = Reporter()

    async with httpx.AsyncClient(timeout=10) as http:
        oauth = PlainOAuthClient(http, args.issuer)

        async def as_metadata() -> str:
            await oauth.discover_and_register()
            metadata = oauth.metadata
            problems = []
            if metadata.get("code_challenge_methods_supported") != ["S256"]:
                problems.append(f"code_challenge_methods_supported={metadata.get('code_challenge_methods_supported')}")
            if metadata.get("issuer") != args.issuer:
                problems.append(f"issuer={metadata.get('issuer')!r}")
            missing = {"mcp:tools", "mcp:admin"} - set(metadata.get("scopes_supported", []))
            if missing:
                problems.append(f"scopes_supported lacks {sorted(missing)}")
            if problems:
                raise AssertionError(", ".join(problems))
            return "RFC 8414 metadata, S256 only, open registration works"

        async def pkce_required() -> str:
            result, _ = await oauth.authorize("mcp:tools", args.resource, with_pkce=False)
            if result.get("error") != "invalid_request" or "code" in result:
                raise AssertionError(f"authorization without PKCE was not refused: {sorted(result)}")
            return f"no code_challenge → error={result['error']}"

        async def token_profile() -> str:
            result, verifier = await oauth.authorize("mcp:tools", args.resource)
            if "code" not in result:
                raise AssertionError(f"no code: {result.get('error')}: {result.get('error_description')}")
            if result.get("iss") != args.issuer:
                raise AssertionError(f"authorization response iss={result.get('iss')!r} (RFC 9207)")
            tokens = await oauth.exchange(result["code"], verifier, args.resource)
            claims = check_rfc9068(tokens["access_token"], issuer=args.issuer, resource=args.resource, scopes={"mcp:tools"})
            if claims["sub"] != TEST_USER:
                raise AssertionError(f"sub={claims['sub']!r}")
            if claims.get("scope") != "mcp:tools":
                raise AssertionError(f"scope={claims.get('scope')!r}: not what was asked")
            if not tokens.get("refresh_token"):
                raise AssertionError("no refresh token")
            refreshed = await oauth.refresh(tokens["refresh_token"], args.resource)
            check_rfc9068(refreshed["access_token"], issuer=args.issuer, resource=args.resource)
            return (
                f"at+jwt aud=resource sub={claims['sub']} scope={claims['scope']!r} client_id present; "
                f"access token {len(tokens['access_token'])} chars; refresh works"
            )

        await report.run("as-metadata", as_metadata)
        if oauth.client:
            await report.run("as-pkce-required", pkce_required)
            await report.run("as-token-profile", token_profile)

    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
