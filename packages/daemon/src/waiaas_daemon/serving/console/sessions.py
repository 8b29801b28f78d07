"""Console sessions: random 256-bit ids in a cookie, kept hashed in memory only.

Memory only on purpose: a daemon restart signs every owner out (SPEC 15).
Each session carries its own CSRF token; a session ends at sign-out or after
``IDLE_SECONDS`` without a request, measured on the daemon's injected clock.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

IDLE_SECONDS = 15 * 60
COOKIE = "waiaas_console"


@dataclass
class ConsoleSession:
    csrf_token: str
    last_seen: float


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ConsoleSessions:
    def __init__(self, clock: Callable[[], float], idle: float = IDLE_SECONDS) -> None:
        self._clock = clock
        self._idle = idle
        self._by_digest: dict[str, ConsoleSession] = {}

    def start(self) -> str:
        """A new session; returns its raw id, which only the cookie ever holds."""
        now = self._clock()
        self._forget_idle(now)
        session_id = secrets.token_urlsafe(32)  # 256 bits
        self._by_digest[_digest(session_id)] = ConsoleSession(secrets.token_urlsafe(32), now)
        return session_id

    def touch(self, session_id: str | None, *, restart: bool = True) -> ConsoleSession | None:
        """The live session of this id, its idle timer restarted; None if none.

        ``restart=False`` is for the approvals list's own refresh: an open tab
        polling every few seconds is not the owner at the keyboard.
        """
        if not session_id:
            return None
        now = self._clock()
        key = _digest(session_id)
        session = self._by_digest.get(key)
        if session is None:
            return None
        if now - session.last_seen >= self._idle:
            del self._by_digest[key]
            return None
        if restart:
            session.last_seen = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._by_digest.pop(_digest(session_id), None)

    def __len__(self) -> int:
        return len(self._by_digest)

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, s in self._by_digest.items() if now - s.last_seen >= self._idle]
        for key in idle:
            del self._by_digest[key]


def cookie_header(session_id: str) -> str:
    """Set-Cookie for a session: no script can read it, no other site can send it."""
    return f"{COOKIE}={session_id}; HttpOnly; Path=/console; SameSite=Strict"


def expired_cookie_header() -> str:
    return f"{COOKIE}=; HttpOnly; Max-Age=0; Path=/console; SameSite=Strict"


def csrf_matches(session: ConsoleSession, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(
        offered.encode(), session.csrf_token.encode()
    )
