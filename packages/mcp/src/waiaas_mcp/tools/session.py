"""The tool that tells the model about its own session."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from waiaas_mcp.client import ApiClient, Ok
from waiaas_mcp.results import expired_payload, to_json
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
)
KILL_SWITCH_MESSAGE = (
    "The wallet owner has turned the kill switch on: every send is refused "
    "(KILL_SWITCH_ACTIVE) until the owner turns it off. Reading still works. Tell the "
    "user; do not retry sends meanwhile."
)


def owner_controls(daemon: Any) -> dict[str, Any]:
    """From GET /v1/session: ``killSwitch`` while it is on (absent when off), the wallet."""
    if not isinstance(daemon, dict):
        return {}
    controls: dict[str, Any] = {}
    kill_switch = daemon.get("killSwitch")
    if isinstance(kill_switch, dict) and kill_switch.get("active") is True:
        controls["killSwitch"] = {
            "active": True,
            "reason": kill_switch.get("reason"),
            "since": kill_switch.get("since"),
            "message": KILL_SWITCH_MESSAGE,
        }
    wallet = daemon.get("wallet")
    if isinstance(wallet, dict):
        controls["wallet"] = {key: wallet.get(key) for key in ("status", "reason", "since")}
    return controls


def session_info(local: dict[str, Any], daemon: Any) -> dict[str, Any]:
    """This server's view of the session, completed by the daemon's row when it answered."""
    body = {key: value for key, value in local.items() if key != "problem"}
    body.setdefault("constraints", None)
    if isinstance(daemon, dict) and daemon.get("id") in (None, body.get("sessionId")):
        body |= {key: daemon[key] for key in FROM_DAEMON if key in daemon}
        body |= owner_controls(daemon)
    return body


def register(server: MCPServer, api: ApiClient, manager: SessionManager) -> None:
    @server.tool(title="Session info", annotations=ToolAnnotations(read_only_hint=True))
    async def get_session_info() -> CallToolResult:
        """Get this server's session with the wallet daemon: its state, lifetime and limits.

        Returns JSON {state ("active", "expired" or "error"), sessionId, walletId, label,
        expiresAt, absoluteExpiresAt (unix seconds; the session renews itself until then),
        renewalCount, maxRenewals, constraints (this session's hard caps: maxAmountPerTx,
        maxAmountPerDay in base units, allowedRecipients; null when none), renewing,
        wallet {status ("ACTIVE", "SUSPENDED"), reason, since}}, and killSwitch {active,
        reason, since, message} only while the owner's kill switch refuses every send.
        Without a valid session the answer says session_expired and what the owner must run.
        """
        await manager.wait_started()
        await manager.refresh()  # a token provisioned since the last poll counts at once
        if manager.state is not SessionState.ACTIVE:
            return _expired(manager)
        result = await api.get("/v1/session")
        if manager.state is not SessionState.ACTIVE:  # the daemon said revoked meanwhile
            return _expired(manager)
        # An older daemon without the route, or one that is down: the local view only.
        daemon = result.data if isinstance(result, Ok) else None
        return _text(session_info(manager.info(), daemon))


def _expired(manager: SessionManager) -> CallToolResult:
    body = expired_payload(manager.problem or "No valid session.")
    return _text({**body, "state": manager.state.value})


def _text(body: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=to_json(body))])
