"""waiaas command line: set up the daemon, wallets, sessions and Claude Desktop."""

__version__ = "0.1.0"
