"""waiaas command line: set up the daemon, wallets, sessions and Claude Desktop."""

import waiaas_core  # noqa: F401  (first: it keeps httpx from importing its CLI)

__version__ = "0.1.0"
