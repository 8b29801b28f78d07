"""Shared pieces of waiaas used by the daemon, the MCP server and the CLI.

Errors, session tokens, slugs, atomic secret files, paths, configuration and
the Claude Desktop snippet live here so that every package agrees on them.
"""

from waiaas_core.errors import ERRORS, ErrorSpec, WaiaasError

__version__ = "0.1.0"

__all__ = ["ERRORS", "ErrorSpec", "WaiaasError", "__version__"]
