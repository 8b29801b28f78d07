"""waiaas daemon: the REST API over the wallets, sessions and the chain."""

import waiaas_core  # noqa: F401  (first: it keeps httpx from importing its CLI)

__version__ = "0.1.0"
