"""Tools about the daemon rather than the wallet."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from waiaas_core.agent.api import Api
from waiaas_core.agent.results import tool_result


def register(server: MCPServer, api: Api) -> None:
    @server.tool(title="Get a nonce", annotations=ToolAnnotations(read_only_hint=True))
    async def get_nonce() -> CallToolResult:
        """Get a fresh random nonce from the wallet daemon, e.g. to make a message unique.

        Returns JSON {nonce (random, 32 bytes), expiresAt (unix seconds, 5 minutes)}.
        """
        return tool_result(await api.get("/v1/nonce"))
