"""waiaas daemon: the REST API over the wallets, sessions and the chain."""

__version__ = "0.1.0"
