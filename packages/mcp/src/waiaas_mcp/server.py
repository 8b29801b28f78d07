"""`waiaas-mcp` entry point."""

import sys


def main() -> None:
    if "--help" in sys.argv[1:] or "-h" in sys.argv[1:]:
        sys.stderr.write("usage: waiaas-mcp\n\nMCP stdio server for a waiaas wallet.\n")
        sys.exit(0)
    sys.stderr.write("[waiaas-mcp] not implemented yet\n")
    sys.exit(1)
