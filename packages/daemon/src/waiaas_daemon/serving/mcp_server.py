"""The MCP server behind ``/mcp``: the shared agent tools over an in-process ``Api``.

Imported by ``remote_mcp`` on the first ``/mcp`` request only: the SDK costs a
daemon that never serves MCP nothing at start.
"""

from __future__ import annotations

import contextvars
from typing import Any

import httpx
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from waiaas_core.agent import register_agent
from waiaas_core.agent.api import DEFAULT_TIMEOUT, ApiResult, Expired, Ok, classify
from waiaas_core.agent.controls import owner_controls, unhindered
from waiaas_core.agent.results import expired_payload, payload
from waiaas_daemon import __version__
from waiaas_daemon.serving.auth import REMOTE_SCOPE_KEY

INSTRUCTIONS = (
    "Tools for one self-hosted wallet (Solana or EVM), served by its wallet daemon. Amounts "
    "are whole numbers of the asset's smallest unit: lamports for SOL (1 SOL = 1,000,000,000), "
    "wei for ETH and POL (1 ETH = 10^18), a token's base units by its decimals; get_balance "
    "and get_assets say which. A result with session_expired means this access ended: a "
    "client signed in through OAuth signs in again (the owner approves it), one given a "
    "token asks the wallet owner to run 'waiaas mcp setup --http' for a new one."
)

# The bearer of the /mcp request being served; the SDK runs the tool in a task spawned
# from that request, which copies this context.
bearer: contextvars.ContextVar[str] = contextvars.ContextVar("waiaas_mcp_bearer")


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
        headers = {"Authorization": f"Bearer {bearer.get('')}"}
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
                    "budget": data.get("budget"),
                    # The daemon renews this session itself, within the request.
                    "renewing": False,
                } | owner_controls(data)
            case Expired(message):
                return {**expired_payload(message), "state": "expired"}
        return {**payload(result), "state": "error"}

    async def system_status(self) -> dict[str, Any]:
        health = await self._api.public_get("/health")
        info = await self.session_info()
        controls: dict[str, Any] = {
            key: info.pop(key) for key in ("killSwitch", "wallet") if key in info
        }
        healthy = isinstance(health, Ok) and info["state"] == "active" and unhindered(controls)
        status: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "server": {"name": "waiaas-daemon", "version": __version__, "transport": "http"},
            "daemon": {"reachable": isinstance(health, Ok)} | payload(health),
            "wallet": {"id": info.get("walletId")} | controls.get("wallet", {}),
            "session": info,
        }
        if "killSwitch" in controls:
            status["killSwitch"] = controls["killSwitch"]
        return status


def build(app: ASGIApp) -> tuple[StreamableHTTPSessionManager, InProcessApi]:
    """The SDK's session manager over an MCP server whose tools call ``app``."""
    api = InProcessApi(app)
    server = MCPServer(
        "waiaas", title="waiaas wallet", version=__version__, instructions=INSTRUCTIONS
    )
    register_agent(server, api, DaemonSession(api))
    manager = StreamableHTTPSessionManager(
        server._lowlevel_server,
        # Stateless: every POST carries its bearer and is served on its own, so no MCP
        # session outlives, or is shared across, an authentication.
        stateless=True,
        json_response=True,
        # Host is HostGuard's, Origin remote_mcp's: both answer with our JSON error.
        security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return manager, api
