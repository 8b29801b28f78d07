"""The stdio server's ``SessionSource``: its SessionManager, completed by the daemon's row."""

from __future__ import annotations

from typing import Any

from waiaas_core.agent.api import Ok
from waiaas_core.agent.controls import owner_controls, unhindered
from waiaas_core.agent.results import expired_payload, payload
from waiaas_mcp import __version__
from waiaas_mcp.client import ApiClient
from waiaas_mcp.config import Settings
from waiaas_mcp.session import SessionManager, SessionState

# What GET /v1/session knows better than the token's claims.
FROM_DAEMON = (
    "label",
    "status",
    "renewalCount",
    "maxRenewals",
    "absoluteExpiresAt",
    "createdAt",
    "lastRenewedAt",
    "constraints",
    "budget",
)


def session_info(local: dict[str, Any], daemon: Any) -> dict[str, Any]:
    """This server's view of the session, completed by the daemon's row when it answered."""
    body = {key: value for key, value in local.items() if key != "problem"}
    body.setdefault("constraints", None)
    if isinstance(daemon, dict) and daemon.get("id") in (None, body.get("sessionId")):
        body |= {key: daemon[key] for key in FROM_DAEMON if key in daemon}
        body |= owner_controls(daemon)
    return body


class LocalSession:
    def __init__(self, api: ApiClient, manager: SessionManager, settings: Settings) -> None:
        self._api = api
        self._manager = manager
        self._settings = settings

    async def session_info(self) -> dict[str, Any]:
        manager = self._manager
        await manager.wait_started()
        await manager.refresh()  # a token provisioned since the last poll counts at once
        if manager.state is not SessionState.ACTIVE:
            return self._expired()
        result = await self._api.get("/v1/session")
        if manager.state is not SessionState.ACTIVE:  # the daemon said revoked meanwhile
            return self._expired()
        # An older daemon without the route, or one that is down: the local view only.
        daemon = result.data if isinstance(result, Ok) else None
        return session_info(manager.info(), daemon)

    async def system_status(self) -> dict[str, Any]:
        await self._manager.wait_started()
        health = await self._api.public_get("/health")
        controls: dict[str, Any] = {}
        daemon: Any = None
        if isinstance(health, Ok) and self._manager.state is SessionState.ACTIVE:
            own = await self._api.get("/v1/session")
            daemon = own.data if isinstance(own, Ok) else None
            controls = owner_controls(daemon) if daemon is not None else {}
        info = self._manager.info()
        healthy = isinstance(health, Ok) and info["state"] == "active" and unhindered(controls)
        status: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "server": {"name": "waiaas-mcp", "version": __version__},
            "daemon": {"baseUrl": self._settings.base_url, "reachable": isinstance(health, Ok)}
            | payload(health),
            "wallet": {"id": self._settings.wallet_id, "name": self._settings.wallet_name}
            | controls.get("wallet", {}),
            # The same renewal facts as get_session_info (the daemon's row completes the
            # token's claims), and what this server knows of its own renewals.
            "session": {**session_info(info, daemon), "problem": info["problem"]},
        }
        if "killSwitch" in controls:
            status["killSwitch"] = controls["killSwitch"]
        return status

    def _expired(self) -> dict[str, Any]:
        body = expired_payload(self._manager.problem or "No valid session.")
        return {**body, "state": self._manager.state.value}
