"""What an agent sees of a wallet over MCP: the tools, the resources, their results.

One definition for every transport: ``waiaas-mcp`` registers them over stdio with
its self-renewing session, the daemon over Streamable HTTP at ``/mcp`` with the
caller's bearer. Each gets an ``Api`` (the REST calls, answers classified) and a
``SessionSource`` (what ``get_session_info`` and the status resource report).

Needs the ``mcp`` extra (``waiaas-core[mcp]``); ``import waiaas_core`` alone never
imports this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from waiaas_core.agent.api import Api, SessionSource


def register_agent(server: MCPServer, api: Api, source: SessionSource) -> None:
    """Every tool and resource, on ``server``.

    Imported here, not at the top: ``waiaas_core.agent.api`` (the result kinds) is
    needed before the tools are, and must not pay for the SDK and pydantic.
    """
    from waiaas_core.agent.resources import register_resources
    from waiaas_core.agent.tools import register_tools

    register_tools(server, api, source)
    register_resources(server, api, source)


__all__ = ["register_agent"]
