"""The official Python MCP SDK (`mcp`, pinned in requirements.txt) against the protected_server
example and the oidc-provider authorization server, with nothing but the SDK's own OAuth client
provider doing OAuth:

    python python_client.py --mcp http://127.0.0.1:PORT/mcp --issuer http://127.0.0.1:PORT2

Scenario `python-sdk-flow`: the SDK posts to /mcp without a token, gets 401, reads the protected
resource metadata, the authorization server's metadata, registers (RFC 7591), authorizes with
PKCE S256 and `resource` (the user agent here is an HTTP client that follows the redirects, since
login and consent are automatic), exchanges the code, then `tools/list` and `tools/call whoami`,
whose `sub` must be the authorization server's test user.

Scenario `python-sdk-metadata-protocol-version`: the SDK's metadata requests carry
`MCP-Protocol-Version`; our metadata endpoint must answer them with 200.

Prints PASS/FAIL lines; exit code 1 on any FAIL. Never prints a token (lengths only).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import httpx
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from interop_common import TEST_USER, Reporter, check_rfc9068, follow_authorization

# Never contacted: the redirect handler reads the code off the authorization server's redirect.
REDIRECT_URI = "http://127.0.0.1:1/callback"


class MemoryStorage:
    """The SDK's TokenStorage protocol, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    protocol_version: str | None
    authorized: bool
    rpc: str | None = None


    @property
    def path(self) -> str:
        return urlparse(self.url).path

    def __str__(self) -> str:
        rpc = f" [{self.rpc}]" if self.rpc else ""
        return f"{self.method} {self.path}{rpc} {self.status}"


def rpc_method(request: httpx2.Request) -> str | None:
    """The JSON-RPC method of an MCP POST (for the log; never the params)."""
    if request.method != "POST" or not request.url.path.endswith("/mcp"):
        return None
    try:
        body = json.loads(request.content)
    except (ValueError, httpx2.RequestNotRead):
        return None
    if isinstance(body, dict):
        return body.get("method") or "response"
    return "batch"


@dataclass
class HeadlessUser:
    """The SDK's redirect and callback handlers: the 'browser' follows the authorization URL
    (the authorization server logs in and consents by itself) and the redirect to REDIRECT_URI
    is captured instead of being served by a local listener."""

    authorization_urls: list[str] = field(default_factory=list)
    pending: dict[str, str] | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorization_urls.append(authorization_url)
        async with httpx.AsyncClient(timeout=10) as browser:
            self.pending = await follow_authorization(browser, authorization_url, REDIRECT_URI)

    async def callback_handler(self) -> AuthorizationCodeResult:
        result, self.pending = self.pending, None
        if result is None:
            raise RuntimeError("callback before redirect")
        if "code" not in result:
            raise RuntimeError(f"authorization failed: {result.get('error')}: {result.get('error_description')}")
        return AuthorizationCodeResult(code=result["code"], state=result.get("state"), iss=result.get("iss"))


def text_of(result) -> str:
    """The text of a tools/call result's first content block."""
    if getattr(result, "is_error", False) or getattr(result, "isError", False):
        raise AssertionError(f"tool returned an error: {result}")
    return result.content[0].text


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mcp", required=True, help="the MCP endpoint, http://127.0.0.1:PORT/mcp")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--user", default=TEST_USER, help="the `sub` the authorization server's tokens carry")
    parser.add_argument("--label", default="python-sdk", help="prefix of the scenario names")
    args = parser.parse_args()
    report = Reporter()

    exchanges: list[Exchange] = []

    async def record(response: httpx2.Response) -> None:
        request = response.request
        exchanges.append(
            Exchange(
                method=request.method,
                url=str(request.url),
                status=response.status_code,
                protocol_version=request.headers.get("mcp-protocol-version"),
                authorized="authorization" in request.headers,
                rpc=rpc_method(request),
            )
        )

    storage = MemoryStorage()
    user = HeadlessUser()
    provider = OAuthClientProvider(
        server_url=args.mcp,
        client_metadata=OAuthClientMetadata(
            client_name="mcp-server-auth interop (python sdk)",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=user.redirect_handler,
        callback_handler=user.callback_handler,
    )
    http_client = create_mcp_http_client(auth=provider)
    http_client.event_hooks["response"].append(record)

    stack = contextlib.AsyncExitStack()
    session: list[Client] = []  # the connected client, once `flow` got that far

    async def flow() -> str:
        await stack.enter_async_context(http_client)
        client = await stack.enter_async_context(Client(streamable_http_client(args.mcp, http_client=http_client)))
        session.append(client)
        tools = await client.list_tools()
        names = sorted(tool.name for tool in tools.tools)
        if "whoami" not in names:
            raise AssertionError(f"tools/list has no whoami: {names}")
        identity = json.loads(text_of(await client.call_tool("whoami", {})))

        sequence = [str(e) for e in exchanges]
        print("  python-sdk requests: " + ", ".join(sequence), file=sys.stderr)
        steps = []

        def expect(what: str, predicate) -> Exchange:
            for exchange in exchanges:
                if predicate(exchange):
                    steps.append(what)
                    return exchange
            raise AssertionError(f"no {what} in {sequence}")

        expect("401", lambda e: e.path.endswith("/mcp") and e.status == 401 and not e.authorized)
        expect("PRM", lambda e: "/.well-known/oauth-protected-resource" in e.path and e.status == 200)
        expect("AS metadata", lambda e: e.path.startswith("/.well-known/") and e.url.startswith(args.issuer) and e.status == 200)
        expect("registration", lambda e: e.method == "POST" and e.url.startswith(args.issuer) and e.status == 201)
        if len(user.authorization_urls) != 1:
            raise AssertionError(f"{len(user.authorization_urls)} authorizations, want 1")
        query = {k: v[0] for k, v in parse_qs(urlparse(user.authorization_urls[0]).query).items()}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            raise AssertionError(f"authorization without PKCE S256: {sorted(query)}")
        if query.get("resource") != args.mcp:
            raise AssertionError(f"authorization resource={query.get('resource')!r}, want {args.mcp!r}")
        steps.append(f"PKCE+resource scope={query.get('scope')!r}")
        expect("token", lambda e: e.method == "POST" and e.url.startswith(args.issuer) and e.status == 200)
        expect("authorized MCP call", lambda e: e.path.endswith("/mcp") and e.status == 200 and e.authorized)

        if storage.tokens is None:
            raise AssertionError("no tokens stored")
        claims = check_rfc9068(storage.tokens.access_token, issuer=args.issuer, resource=args.mcp, scopes={"mcp:tools"})
        if identity.get("sub") != args.user:
            raise AssertionError(f"whoami sub={identity.get('sub')!r}, want {args.user!r}")
        if identity.get("iss") != args.issuer or identity.get("client_id") != claims["client_id"]:
            raise AssertionError(f"whoami iss/client_id do not match the token: {identity}")
        return (
            " → ".join(steps)
            + f" → tools/list ({len(names)} tools) → whoami sub={identity['sub']}; "
            + f"token {len(storage.tokens.access_token)} chars, scope={claims.get('scope')!r}"
        )

    async def metadata_protocol_version() -> str:
        prm = [e for e in exchanges if "/.well-known/oauth-protected-resource" in e.path]
        if not prm:
            raise AssertionError("the SDK fetched no protected resource metadata")
        with_header = [e for e in prm if e.protocol_version]
        if not with_header:
            raise AssertionError("the SDK sent no MCP-Protocol-Version on metadata requests (nothing to prove)")
        bad = [f"{e} (MCP-Protocol-Version {e.protocol_version})" for e in with_header if e.status != 200]
        if bad:
            raise AssertionError("metadata refused: " + ", ".join(bad))
        return f"PRM with MCP-Protocol-Version {with_header[0].protocol_version} → 200"

    async def step_up() -> str:
        """admin_reset with an mcp:tools token: HTTP 403 insufficient_scope naming mcp:admin; the
        SDK (SEP-835/SEP-2350 logic in OAuthClientProvider) re-authorizes by itself for the union
        of scopes and retries."""
        if not session:
            raise AssertionError("not run: python-sdk-flow did not connect")
        client = session[0]
        before = len(exchanges)
        authorizations = len(user.authorization_urls)
        result = await client.call_tool("admin_reset", {})
        seen = exchanges[before:]
        print("  python-sdk step-up requests: " + ", ".join(map(str, seen)), file=sys.stderr)
        forbidden = [e for e in seen if e.path.endswith("/mcp") and e.status == 403]
        if not forbidden:
            raise AssertionError(f"no 403 from admin_reset: {[str(e) for e in seen]}")
        if len(user.authorization_urls) == authorizations:
            raise AssertionError("the SDK did not re-authorize after 403 insufficient_scope")
        query = {k: v[0] for k, v in parse_qs(urlparse(user.authorization_urls[-1]).query).items()}
        asked = set(query.get("scope", "").split())
        if "mcp:admin" not in asked:
            raise AssertionError(f"re-authorization asked scope={query.get('scope')!r}, no mcp:admin")
        text = text_of(result)
        if "reset done" not in text:
            raise AssertionError(f"admin_reset answered {text[:100]!r}")
        claims = check_rfc9068(storage.tokens.access_token, issuer=args.issuer, resource=args.mcp, scopes={"mcp:admin"})
        return (
            f"403 → re-authorized with scope={query.get('scope')!r} → retried → 200; "
            f"new token scope={claims.get('scope')!r}"
        )

    def in_session(scenario):
        """When the SDK's OAuth flow fails inside a call, the call sees only a CancelledError (the
        transport's task group was cancelled) and the real error comes out when the client is
        closed: close it then, so the FAIL line names the real error."""

        async def run() -> str | None:
            try:
                return await scenario()
            except asyncio.CancelledError:
                session.clear()
                await stack.aclose()  # raises the transport's error, if it has one
                raise

        return run

    try:
        await report.run(f"{args.label}-flow", in_session(flow))
        await report.run(f"{args.label}-metadata-protocol-version", metadata_protocol_version)
        await report.run(f"{args.label}-step-up", in_session(step_up))
    finally:
        try:
            await stack.aclose()
        except Exception as error:  # noqa: BLE001 - already reported by the scenario that caused it
            print(f"  closing the client: {type(error).__name__}", file=sys.stderr)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
