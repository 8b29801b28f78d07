"""waiaas MCP server: the wallet as MCP tools, with a session that renews itself."""

__version__ = "0.1.0"
