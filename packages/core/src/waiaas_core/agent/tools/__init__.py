"""The MCP tools, one module per topic; ``register_tools`` adds them all."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from waiaas_core.agent.api import Api, SessionSource
from waiaas_core.agent.tools import payments, session, system, transactions, wallet


def register_tools(server: MCPServer, api: Api, source: SessionSource) -> None:
    wallet.register(server, api)
    transactions.register(server, api)
    system.register(server, api)
    session.register(server, source)
    payments.register(server, api)
