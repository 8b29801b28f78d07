"""Shared pieces of waiaas used by the daemon, the MCP server and the CLI.

Errors, session tokens, slugs, atomic secret files, paths, configuration and
the Claude Desktop snippet live here so that every package agrees on them.
"""

import sys

# httpx's package imports its own command line client (httpx._main) when it is
# imported, and with it rich and pygments: a tenth of a second of CPU and a few MiB
# on every start of waiaas, waiaas-mcp and the daemon, for a program none of them
# runs. A None entry makes that import fail, and httpx then goes without it (its
# __init__ expects the ImportError). Every waiaas package imports waiaas_core first.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from waiaas_core.errors import ERRORS, ErrorSpec, WaiaasError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["ERRORS", "ErrorSpec", "WaiaasError", "__version__"]
