"""The one logging setup of waiaas-mcp: every line to stderr, prefixed, the SDK's too.

stdout belongs to JSON-RPC; a stray print or log line there breaks the client.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

SESSION_LOGGER = "waiaas_mcp.session"
# Loggers that talk too much at INFO (httpx logs every request line).
_QUIET = ("httpx", "httpcore", "mcp", "asyncio")


class PrefixFormatter(logging.Formatter):
    """``[waiaas-mcp:session]`` for the session manager, ``[waiaas-mcp]`` for the rest."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return f"{prefix_for(record.name)} {text}"


def prefix_for(logger_name: str) -> str:
    if logger_name == SESSION_LOGGER or logger_name.startswith(SESSION_LOGGER + "."):
        return "[waiaas-mcp:session]"
    return "[waiaas-mcp]"


def setup_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route every logger through one stderr handler; safe to call more than once."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(PrefixFormatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
