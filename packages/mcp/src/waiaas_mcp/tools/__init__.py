"""The MCP tools, one module per topic; ``register_tools`` adds them all."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from waiaas_mcp.client import ApiClient
from waiaas_mcp.session import SessionManager
from waiaas_mcp.tools import payments, session, system, transactions, wallet


def register_tools(server: MCPServer, api: ApiClient, manager: SessionManager) -> None:
    wallet.register(server, api)
    transactions.register(server, api)
    system.register(server, api)
    session.register(server, api, manager)
    payments.register(server, api)
