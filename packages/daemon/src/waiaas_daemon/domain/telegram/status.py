"""What the running bot tells about itself: the daemon state holds it, the status route reads it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class PollerStatus:
    running: bool = False
    # This daemon holds the poller's role (on a shared database one daemon does).
    polling: bool = False
    failures: int = 0
    last_error: str | None = None
    handled: int = 0
