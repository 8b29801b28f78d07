"""Remote MCP: the agent's tools over Streamable HTTP at ``/mcp``.

The tools and resources are ``waiaas_core.agent``'s, the very ones ``waiaas-mcp``
serves over stdio. Here their ``Api`` calls this daemon's own app in process
(``httpx.ASGITransport``) with the caller's bearer, so every call takes the REST
route's auth, policy and error path. In front of the SDK's transport (stateless,
JSON answers) this endpoint refuses a foreign ``Origin`` and checks the bearer
(401 with ``WWW-Authenticate: Bearer``, our JSON error), and renews an ``mcp-http``
session when it is due: a remote client's bearer never changes
(docs/notes/remote-mcp.md).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from waiaas_core.agent import register_agent
from waiaas_core.agent.api import (
    DEFAULT_TIMEOUT,
    ApiResult,
    Expired,
    Ok,
    classify,
)
from waiaas_core.agent.results import expired_payload, payload
from waiaas_core.errors import WaiaasError
from waiaas_daemon import __version__, sessions
from waiaas_daemon.auth import REMOTE_SCOPE_KEY
from waiaas_daemon.middleware import host_allowed, request_id
from waiaas_daemon.state import DaemonState

log = logging.getLogger("waiaas_daemon.mcp")

PATH = "/mcp"

INSTRUCTIONS = (
    "Tools for one self-hosted Solana wallet, served by its wallet daemon. Amounts are in "
    "lamports (1 SOL = 1,000,000,000 lamports). A result with session_expired means the "
    "wallet owner must run 'waiaas mcp setup --http' and give you the new token."
)

# The bearer of the /mcp request being served; the SDK runs the tool in a task spawned
# from that request, which copies this context.
_bearer: contextvars.ContextVar[str] = contextvars.ContextVar("waiaas_mcp_bearer")


class InProcessApi:
    """The daemon's REST routes, called through the app itself as the /mcp caller."""

    def __init__(self, app: ASGIApp) -> None:
        self._http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_marked(app), raise_app_exceptions=False),
            base_url="http://127.0.0.1",
            headers={"User-Agent": f"waiaas-daemon-mcp/{__version__}"},
        )

    async def get(self, path: str, params: dict[str, Any] | None = None) -> ApiResult:
        return await self.request("GET", path, params=params)

    async def post(
        self, path: str, body: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> ApiResult:
        # No timeout: the call runs in this process and ends with the route.
        return await self.request("POST", path, json=body)

    async def public_get(self, path: str) -> ApiResult:
        return classify(await self._http.get(path))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> ApiResult:
        headers = {"Authorization": f"Bearer {_bearer.get('')}"}
        response = await self._http.request(method, path, headers=headers, params=params, json=json)
        if response.status_code == 401:
            # Revoked or expired since the request arrived: the shape of SPEC 9.
            error = classify(response)
            message = error.error.message if not isinstance(error, Ok) else ""
            return Expired(message or "The session token is no longer valid.")
        return classify(response)

    async def aclose(self) -> None:
        await self._http.aclose()


def _marked(app: ASGIApp) -> ASGIApp:
    async def marked(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, REMOTE_SCOPE_KEY: True}, receive, send)

    return marked


class DaemonSession:
    """get_session_info and the status resource from the daemon's own row (GET /v1/session)."""

    def __init__(self, api: InProcessApi) -> None:
        self._api = api

    async def session_info(self) -> dict[str, Any]:
        result = await self._api.get("/v1/session")
        match result:
            case Ok(data) if isinstance(data, dict):
                return {
                    "state": "active",
                    "sessionId": data.get("id"),
                    "walletId": data.get("walletId"),
                    "label": data.get("label"),
                    "status": data.get("status"),
                    "expiresAt": data.get("expiresAt"),
                    "absoluteExpiresAt": data.get("absoluteExpiresAt"),
                    "renewalCount": data.get("renewalCount"),
                    "maxRenewals": data.get("maxRenewals"),
                    "createdAt": data.get("createdAt"),
                    "lastRenewedAt": data.get("lastRenewedAt"),
                    "constraints": data.get("constraints"),
                    # The daemon renews this session itself, within the request.
                    "renewing": False,
                }
            case Expired(message):
                return {**expired_payload(message), "state": "expired"}
        return {**payload(result), "state": "error"}

    async def system_status(self) -> dict[str, Any]:
        health = await self._api.public_get("/health")
        info = await self.session_info()
        healthy = isinstance(health, Ok) and info["state"] == "active"
        return {
            "status": "ok" if healthy else "degraded",
            "server": {"name": "waiaas-daemon", "version": __version__, "transport": "http"},
            "daemon": {"reachable": isinstance(health, Ok)} | payload(health),
            "wallet": {"id": info.get("walletId")},
            "session": info,
        }


class RemoteMcp:
    """The ``/mcp`` endpoint (an ASGI app) and the SDK session manager behind it."""

    def __init__(self, state: DaemonState, allowed_hosts: Iterable[str]) -> None:
        self._state = state
        self._allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._api: InProcessApi | None = None
        self._manager: StreamableHTTPSessionManager | None = None

    def bind(self, app: ASGIApp) -> None:
        """Build the MCP server over ``app``, the daemon's whole app (its own routes)."""
        self._api = InProcessApi(app)
        server = MCPServer(
            "waiaas", title="waiaas wallet", version=__version__, instructions=INSTRUCTIONS
        )
        register_agent(server, self._api, DaemonSession(self._api))
        self._manager = StreamableHTTPSessionManager(
            server._lowlevel_server,
            # Stateless: every POST carries its bearer and is served on its own, so
            # no MCP session outlives, or is shared across, an authentication.
            stateless=True,
            json_response=True,
            # Host is HostGuard's, Origin ours: both answer with our JSON error.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Inside the daemon's lifespan: the SDK's task group serves the requests."""
        assert self._manager is not None and self._api is not None
        try:
            async with self._manager.run():
                yield
        finally:
            await self._api.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._manager is not None
        headers = scope["headers"]
        origin = next((v for k, v in headers if k == b"origin"), None)
        if origin is not None and not self._origin_allowed(origin.decode("latin-1")):
            await _error(scope, send, WaiaasError("INVALID_ORIGIN"))
            return
        raw = next((v for k, v in headers if k == b"authorization"), b"").decode("latin-1")
        scheme, _, token = raw.partition(" ")
        try:
            if scheme.lower() != "bearer" or not token.strip():
                raise WaiaasError("INVALID_TOKEN", "Send Authorization: Bearer wai_sess_...")
            auth = await sessions.authenticate_remote(self._state, token.strip())
        except WaiaasError as exc:
            await _error(scope, send, exc, challenge=exc.status == 401)
            return
        await sessions.renew_remote(self._state, auth.session)
        reset = _bearer.set(token.strip())
        try:
            await self._manager.handle_request(scope, receive, send)
        finally:
            _bearer.reset(reset)

    def _origin_allowed(self, origin: str) -> bool:
        """A browser page's origin must be this daemon's own host (DNS rebinding)."""
        scheme, sep, rest = origin.lower().partition("://")
        if not sep or scheme not in ("http", "https") or "/" in rest:
            return False
        return host_allowed(rest, self._allowed_hosts)


async def _error(scope: Scope, send: Send, error: WaiaasError, *, challenge: bool = False) -> None:
    body = json.dumps(error.to_body(request_id(scope))).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if challenge:
        headers.append((b"www-authenticate", b'Bearer realm="waiaas"'))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
