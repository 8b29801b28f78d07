"""waiaas MCP server: the wallet as MCP tools, with a session that renews itself."""

import waiaas_core  # noqa: F401  (first: it keeps httpx from importing its CLI)

__version__ = "0.1.0"
