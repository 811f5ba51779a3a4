"""Helpers shared by the Python interop scenarios (no MCP SDK code here).

Never print a token, code or secret: only lengths, claims and header fields.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import secrets
import sys
import traceback
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

TEST_USER = "interop-user"


class Reporter:
    """Prints `PASS name` / `FAIL name: reason` and counts them."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, name: str, note: str = "") -> None:
        self.passed += 1
        print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)

    def fail(self, name: str, reason: str) -> None:
        self.failed += 1
        reason = " ".join(str(reason).split())
        print(f"FAIL {name}: {reason}", flush=True)

    async def run(self, name: str, scenario: Callable[[], Awaitable[str | None]]) -> None:
        """Runs one scenario: it returns an optional note, or raises to fail."""
        try:
            note = await scenario()
        except BaseException as error:  # noqa: BLE001 - a scenario's failure of any kind is a FAIL
            if isinstance(error, KeyboardInterrupt):
                raise
            traceback.print_exc(file=sys.stderr)
            self.fail(name, describe(error))
            return
        self.ok(name, note or "")


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the error itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def describe(error: BaseException) -> str:
    """A one-line description. Unwraps exception groups (anyio task groups) and prefers the cause
    to the cancellations it set off; follows `raise ... from` / implicit context to the root."""
    found = leaves(error)
    real = [e for e in found if not isinstance(e, asyncio.CancelledError)] or found
    parts = []
    for leaf in real[:3]:
        text = f"{type(leaf).__name__}: {leaf}"
        root = leaf.__cause__ or leaf.__context__
        if root is not None and not isinstance(root, asyncio.CancelledError) and str(root) not in text:
            text += f" (from {type(root).__name__}: {root})"
        parts.append(text)
    return "; ".join(parts)[:600]


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (header, payload) of a JWS compact token, not verified."""

    def part(segment: str) -> dict[str, Any]:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))

    segments = token.split(".")
    if len(segments) != 3:
        raise ValueError(f"not a JWS compact token ({len(segments)} segments, {len(token)} chars)")
    return part(segments[0]), part(segments[1])


def check_rfc9068(token: str, *, issuer: str, resource: str, scopes: set[str] | None = None) -> dict[str, Any]:
    """Checks the RFC 9068 shape of an access token; returns its claims. Raises AssertionError."""
    header, claims = jwt_parts(token)
    problems = []
    if header.get("typ") not in ("at+jwt", "application/at+jwt"):
        problems.append(f"typ={header.get('typ')!r}")
    if not header.get("kid"):
        problems.append("no kid")
    if claims.get("iss") != issuer:
        problems.append(f"iss={claims.get('iss')!r} (want {issuer!r})")
    aud = claims.get("aud")
    if aud != resource and not (isinstance(aud, list) and resource in aud):
        problems.append(f"aud={aud!r} (want {resource!r})")
    for claim in ("sub", "client_id", "exp", "iat", "jti"):
        if claim not in claims:
            problems.append(f"no {claim}")
    granted = set(str(claims.get("scope", "")).split())
    if scopes is not None and not scopes <= granted:
        problems.append(f"scope={claims.get('scope')!r} (want at least {sorted(scopes)})")
    if problems:
        raise AssertionError("access token not RFC 9068 as expected: " + ", ".join(problems))
    return claims


async def follow_authorization(http: httpx.AsyncClient, url: str, redirect_uri: str, *, limit: int = 12) -> dict[str, str]:
    """Plays the user agent: follows the authorization server's redirects (login and consent are
    automatic there) until one goes to `redirect_uri`, and returns that redirect's query
    parameters (code, state, iss; or error, error_description). `http` keeps the cookies."""
    for _ in range(limit):
        response = await http.get(url, follow_redirects=False)
        if response.status_code not in (301, 302, 303, 307, 308):
            # oidc-provider's error page is HTML: keep its words, which name the error.
            body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", response.text, flags=re.S)
            body = " ".join(re.sub(r"<[^>]+>", " ", body).split())
            raise RuntimeError(f"authorization stopped at {urlparse(url).path} with HTTP {response.status_code}: {body[:300]}")
        location = urljoin(url, response.headers["location"])
        if location.startswith(redirect_uri):
            query = parse_qs(urlparse(location).query)
            return {key: values[0] for key, values in query.items()}
        url = location
    raise RuntimeError(f"more than {limit} redirects during authorization")


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class PlainOAuthClient:
    """An OAuth client made of plain HTTP requests (no MCP SDK), for the fixture's self-check and
    the negative controls: registers once, then authorization code + PKCE + `resource`."""

    REDIRECT_URI = "http://127.0.0.1:1/callback"  # never contacted: the redirect is read, not followed

    def __init__(self, http: httpx.AsyncClient, issuer: str) -> None:
        self.http = http
        self.issuer = issuer
        self.metadata: dict[str, Any] = {}
        self.client: dict[str, Any] = {}

    async def discover_and_register(self) -> None:
        response = await self.http.get(f"{self.issuer}/.well-known/oauth-authorization-server")
        response.raise_for_status()
        self.metadata = response.json()
        response = await self.http.post(
            self.metadata["registration_endpoint"],
            json={
                "redirect_uris": [self.REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "application_type": "native",
                "client_name": "mcp-server-auth interop (plain http)",
            },
        )
        if response.status_code != 201:
            raise AssertionError(f"registration: HTTP {response.status_code} {response.text[:300]}")
        self.client = response.json()

    async def authorize(self, scope: str, resource: str, *, with_pkce: bool = True) -> tuple[dict[str, str], str]:
        """The authorization response's parameters, and the PKCE verifier."""
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": self.client["client_id"],
            "redirect_uri": self.REDIRECT_URI,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "resource": resource,
        }
        if with_pkce:
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        url = str(httpx.URL(self.metadata["authorization_endpoint"], params=params))
        return await follow_authorization(self.http, url, self.REDIRECT_URI), verifier

    async def exchange(self, code: str, verifier: str, resource: str) -> dict[str, Any]:
        response = await self.http.post(
            self.metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.REDIRECT_URI,
                "client_id": self.client["client_id"],
                "code_verifier": verifier,
                "resource": resource,
            },
        )
        if response.status_code != 200:
            raise AssertionError(f"token: HTTP {response.status_code} {response.text[:300]}")
        return response.json()

    async def tokens(self, scope: str, resource: str) -> dict[str, Any]:
        """A full authorization code flow; the token response."""
        result, verifier = await self.authorize(scope, resource)
        if "code" not in result:
            raise AssertionError(f"no code: {result.get('error')}: {result.get('error_description')}")
        return await self.exchange(result["code"], verifier, resource)

    async def refresh(self, refresh_token: str, resource: str) -> dict[str, Any]:
        response = await self.http.post(
            self.metadata["token_endpoint"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client["client_id"],
                "resource": resource,
            },
        )
        if response.status_code != 200:
            raise AssertionError(f"refresh: HTTP {response.status_code} {response.text[:300]}")
        return response.json()
