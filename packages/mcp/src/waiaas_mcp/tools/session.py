"""The tool that tells the model about its own session."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from waiaas_mcp.results import expired_payload, to_json
from waiaas_mcp.session import SessionManager, SessionState


def register(server: MCPServer, manager: SessionManager) -> None:
    @server.tool(title="Session info", annotations=ToolAnnotations(read_only_hint=True))
    async def get_session_info() -> CallToolResult:
        """Get the state of this server's session with the wallet daemon.

        Returns JSON {state ("active", "expired" or "error"), sessionId, walletId,
        expiresAt (unix seconds), renewalCount, maxRenewals, absoluteExpiresAt, renewing};
        the counts are null until the first renewal. The session renews itself; without
        a valid one the answer says session_expired and what to run.
        """
        await manager.wait_started()
        info = manager.info()
        if manager.state is not SessionState.ACTIVE:
            body = {
                **expired_payload(manager.problem or "No valid session."),
                "state": info["state"],
            }
        else:
            body = {key: value for key, value in info.items() if key != "problem"}
        return CallToolResult(content=[TextContent(type="text", text=to_json(body))])
