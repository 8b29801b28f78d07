"""The tool that tells the model about its own session."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from waiaas_core.agent.api import SessionSource
from waiaas_core.agent.results import to_json


def register(server: MCPServer, source: SessionSource) -> None:
    @server.tool(title="Session info", annotations=ToolAnnotations(read_only_hint=True))
    async def get_session_info() -> CallToolResult:
        """Get this server's session with the wallet daemon: its state, lifetime and limits.

        Returns JSON {state ("active", "expired" or "error"), sessionId, walletId, label,
        expiresAt, absoluteExpiresAt (unix seconds; the session renews itself until then),
        renewalCount, maxRenewals, constraints (this session's hard caps: maxAmountPerTx,
        maxAmountPerDay in base units, allowedRecipients, allowedTokens, allowNative,
        allowedNetworks, and dollar budgets maxUsdPerTx, maxUsdPerDay, maxUsdTotal; null
        when none), budget (what the dollar budgets leave now: {perTx, daily, total} in
        dollars; null without one), renewing,
        wallet {status ("ACTIVE", "SUSPENDED"), reason, since}}, and killSwitch {active,
        reason, since, message} only while the owner's kill switch refuses every send.
        Without a valid session the answer says session_expired and what the owner must run.
        """
        return _text(await source.session_info())


def _text(body: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=to_json(body))])
