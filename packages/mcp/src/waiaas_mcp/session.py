"""SessionManager: loads the MCP session token, renews it before it expires, recovers it.

Independent of the MCP SDK (anyio, httpx and the token file only), so it is tested alone
on a fake clock. States: ``active`` (a usable token), ``expired``, ``error``. httpx is
imported at the first renewal, not before (``waiaas_core.lazy_http``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio
import anyio.abc

from waiaas_core.atomic import write_secret_file
from waiaas_core.errors import WaiaasError
from waiaas_core.lazy_http import LazyHttp, client_of
from waiaas_core.paths import TOKENS_DIR, ensure_private_dir
from waiaas_mcp.log import SESSION_LOGGER
from waiaas_mcp.token_file import TokenFileError, read_token_file

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(SESSION_LOGGER)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
EXPIRING_CODES = frozenset({"RENEWAL_LIMIT_EXCEEDED", "SESSION_LIFETIME_EXPIRED"})
YEAR = 365 * 24 * 3600
TOKEN_PREFIX = "wai_sess_"  # waiaas_core.tokens.TOKEN_PREFIX, without importing PyJWT
MAX_TOKEN_CHARS = 8192
# A token whose exp lies outside [now - 10 years, now + 1 year] is not ours to trust.
OLDEST_EXP = 10 * YEAR
FARTHEST_EXP = YEAR


class SessionState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    ERROR = "error"


@dataclass(frozen=True)
class Token:
    raw: str
    session_id: str
    wallet_id: str | None
    expires_at: float

    @property
    def fingerprint(self) -> str:
        """Eight hex digits to tell tokens apart in logs without showing them."""
        return hashlib.sha256(self.raw.encode()).hexdigest()[:8]


class TokenProblem(Exception):
    """Why a token cannot be used; ``state`` is the state it leaves the manager in."""

    def __init__(self, state: SessionState, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


class SessionManager:
    """Keeps one session token usable for as long as the daemon allows.

    Use it as ``async with SessionManager(...) as session: await session.start()``;
    leaving the block (or ``dispose()``) stops every timer and the recovery loop.
    Every delay is a parameter so that tests run on a fake clock.
    """

    def __init__(
        self,
        http: httpx.AsyncClient | LazyHttp,
        *,
        token_file: Path | None,
        env_token: str | None = None,
        wallet_id: str | None = None,
        renew_fraction: float = 0.6,
        retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        too_early_delay: float = 30.0,
        recovery_poll: float = 60.0,
        conflict_rereads: Sequence[float] = (0.25, 0.5, 1.0, 2.0),
        max_sleep: float = 60.0,
        request_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        config_error: str | None = None,
        read_file: Callable[[Path], Awaitable[str | None]] = read_token_file,
    ) -> None:
        self._http = http
        self._token_file = token_file
        self._env_token = env_token
        self._wallet_id = wallet_id
        self._renew_fraction = renew_fraction
        self._retry_delays = tuple(retry_delays)
        self._too_early_delay = too_early_delay
        self._recovery_poll = recovery_poll
        # After a 409 the winner's token reaches the file only after the daemon's commit,
        # which may be a moment after the 409 answered: look again after each delay.
        self._conflict_rereads = tuple(conflict_rereads)
        # Sleeps are cut into pieces of at most max_sleep and the wall clock is read
        # again after each, so a suspended laptop renews soon after it wakes up.
        self._max_sleep = max_sleep
        self._request_timeout = request_timeout
        self._clock = clock
        self._config_error = config_error
        self._read_token_file = read_file

        self._state = SessionState.EXPIRED
        self._problem: str | None = "The session manager has not started yet."
        self._token: Token | None = None
        self._renewal: dict[str, Any] = {}
        self._rejected: set[str] = set()
        self._is_renewing = False
        self._too_early_retried = False
        self._timer: anyio.CancelScope | None = None
        self._recovery: anyio.CancelScope | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._started = anyio.Event()
        self._file_problem: str | None = None
        self._disposed = False

    # -- public surface ---------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def is_renewing(self) -> bool:
        return self._is_renewing

    @property
    def problem(self) -> str | None:
        """Why there is no usable token, in a sentence for a person; None when active."""
        return None if self._state is SessionState.ACTIVE else self._problem

    @property
    def recovering(self) -> bool:
        return self._recovery is not None

    def get_token(self) -> str | None:
        """The token to send; during a renewal still the old one, which stays valid."""
        if self._state is SessionState.ACTIVE and self._token is not None:
            return self._token.raw
        return None

    def info(self) -> dict[str, Any]:
        """What get_session_info shows: state and lifetimes, never the token."""
        token = self._token
        return {
            "state": self._state.value,
            "sessionId": token.session_id if token else None,
            "walletId": token.wallet_id if token else self._wallet_id,
            "expiresAt": int(token.expires_at) if token else None,
            "renewalCount": self._renewal.get("renewalCount"),
            "maxRenewals": self._renewal.get("maxRenewals"),
            "absoluteExpiresAt": self._renewal.get("absoluteExpiresAt"),
            "renewing": self._is_renewing,
            "problem": self.problem,
        }

    async def wait_started(self) -> None:
        # Event.wait() yields to the loop even when set: a wasted turn on every tool call.
        if not self._started.is_set():
            await self._started.wait()

    async def __aenter__(self) -> SessionManager:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        self.dispose()
        assert self._tg is not None
        return await self._tg.__aexit__(exc_type, exc, tb)

    async def start(self) -> None:
        """Load the token (file over environment) and schedule its renewal."""
        if self._tg is None:
            raise RuntimeError("use 'async with SessionManager(...)' before start()")
        try:
            self._activate(await self._load(), source="startup")
        except TokenProblem as problem:
            self._fail(problem.state, problem.message)
        finally:
            self._started.set()

    def dispose(self) -> None:
        """Stop the renewal timer, any renewal in flight and the recovery loop."""
        if self._disposed:
            return
        self._disposed = True
        self._timer = self._recovery = None
        self._started.set()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
        log.info("Session manager stopped")

    async def renew(self) -> None:
        """Renew the token now; skipped when a renewal is already in flight."""
        if self._is_renewing:
            log.info("Renewal already in progress; this one is skipped")
            return
        token = self._token
        if self._state is not SessionState.ACTIVE or token is None:
            log.info("No active token to renew")
            return
        self._is_renewing = True
        try:
            await self._renew(token)
        finally:
            self._is_renewing = False

    async def refresh(self) -> str | None:
        """Without a usable token, look at the token file now rather than at the next poll."""
        if self._state is not SessionState.ACTIVE and not self._disposed and self._started.is_set():
            await self._recover_once()
        return self.get_token()

    async def recheck(self, failed_token: str) -> str | None:
        """After a 401 on ``failed_token``: the token to retry with once, or None if none."""
        current = self._token
        if self._state is SessionState.ACTIVE and current and current.raw != failed_token:
            return current.raw
        if await self._adopt_from_file(exclude=failed_token, source="token file after a 401"):
            return self.get_token()
        if current is not None and current.raw == failed_token:
            self._expire(
                failed_token,
                "The daemon no longer accepts the session token (revoked or expired).",
            )
        return None

    # -- loading ----------------------------------------------------------------

    async def _load(self) -> Token:
        if self._config_error:
            raise TokenProblem(SessionState.ERROR, self._config_error)
        try:
            raw = await self._read_file_or_raise()
        except TokenFileError as exc:
            # The file is there but unusable; the environment token does not stand in
            # for it, so the owner sees the problem instead of a silently older token.
            self._file_problem = str(exc)
            raise TokenProblem(SessionState.ERROR, _file_message(self._token_file, exc)) from None
        if raw:
            log.info("Session token loaded from %s", self._token_file)
        elif self._env_token:
            raw = self._env_token
            log.info("Session token loaded from WAIAAS_SESSION_TOKEN")
        else:
            raise TokenProblem(
                SessionState.EXPIRED,
                f"No session token: {self._token_file} is missing and "
                "WAIAAS_SESSION_TOKEN is not set.",
            )
        return self._inspect(raw)

    async def _read_file_or_raise(self) -> str | None:
        if self._token_file is None:
            return None
        raw = await self._read_token_file(self._token_file)
        self._file_problem = None
        return raw or None

    async def _read_file(self) -> str | None:
        """The file's token, or None; an unusable file is logged once, not at every poll."""
        try:
            return await self._read_file_or_raise()
        except TokenFileError as exc:
            if str(exc) != self._file_problem:
                self._file_problem = str(exc)
                log.warning("%s", _file_message(self._token_file, exc))
            return None

    def _inspect(self, raw: str) -> Token:
        """Decode without verifying (the daemon verifies); raise TokenProblem if unusable."""
        try:
            payload = decode_payload(raw)
        except ValueError:
            raise TokenProblem(
                SessionState.ERROR, "The session token is not a readable JWT."
            ) from None
        sub, exp, wlt = payload.get("sub"), payload.get("exp"), payload.get("wlt")
        if not isinstance(sub, str) or not sub:
            raise TokenProblem(SessionState.ERROR, "The session token has no session id (sub).")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise TokenProblem(SessionState.ERROR, "The session token has no expiry (exp).")
        now = self._clock()
        if not now - OLDEST_EXP <= exp <= now + FARTHEST_EXP:
            raise TokenProblem(SessionState.ERROR, "The session token's expiry is out of range.")
        if self._wallet_id and isinstance(wlt, str) and wlt != self._wallet_id:
            raise TokenProblem(
                SessionState.ERROR,
                "The session token belongs to another wallet than WAIAAS_WALLET_ID.",
            )
        if exp <= now:
            raise TokenProblem(SessionState.EXPIRED, "The session token has expired.")
        return Token(
            raw=raw, session_id=sub, wallet_id=wlt if isinstance(wlt, str) else None, expires_at=exp
        )

    # -- state changes ----------------------------------------------------------

    def _activate(self, token: Token, *, source: str) -> None:
        if self._token is None or self._token.session_id != token.session_id:
            self._renewal = {}  # the counts of another session
        self._token = token
        self._state = SessionState.ACTIVE
        self._problem = None
        self._too_early_retried = False
        self._stop_recovery()
        log.info(
            "Session active (token %s from %s, expires %s)",
            token.fingerprint,
            source,
            _iso(token.expires_at),
        )
        self._schedule_renewal()

    def _expire(self, raw: str, message: str) -> None:
        self._rejected.add(raw)
        self._fail(SessionState.EXPIRED, message)

    def _fail(self, state: SessionState, message: str) -> None:
        self._state = state
        self._problem = message
        self._cancel_timer()
        log.warning("Session %s: %s", state.value, message)
        self._start_recovery()

    async def _adopt_from_file(self, *, exclude: str, source: str, newer_than: float = 0) -> bool:
        """Take the file's token if it is another one, usable, and not refused before."""
        raw = await self._read_file()
        if raw is None or raw == exclude or raw in self._rejected:
            return False
        try:
            token = self._inspect(raw)
        except TokenProblem:
            return False
        if token.expires_at <= newer_than:
            return False
        self._activate(token, source=source)
        return True

    # -- renewal ----------------------------------------------------------------

    def _schedule_renewal(self) -> None:
        assert self._token is not None
        remaining = max(0.0, self._token.expires_at - self._clock())
        why = f"at {self._renew_fraction:.0%} of the remaining lifetime"
        self._schedule(remaining * self._renew_fraction, why=why)

    def _schedule(self, delay: float, *, why: str) -> None:
        if self._disposed or self._tg is None:
            return
        self._cancel_timer()
        scope = anyio.CancelScope()
        self._timer = scope
        self._tg.start_soon(self._fire_at, scope, self._clock() + delay)
        log.info("Renewal scheduled in %.1fs (%s)", delay, why)

    async def _fire_at(self, scope: anyio.CancelScope, deadline: float) -> None:
        with scope:
            while (remaining := deadline - self._clock()) > 0:
                await anyio.sleep(min(remaining, self._max_sleep))
        if scope.cancel_called:
            return
        if self._timer is scope:
            self._timer = None
        await self.renew()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _renew(self, token: Token) -> None:
        # Another process sharing the file may have renewed already: take its token
        # rather than earning a 409.
        if await self._adopt_from_file(
            exclude=token.raw, source="token file", newer_than=token.expires_at
        ):
            return
        log.info("Renewing session token %s", token.fingerprint)
        response = await self._put_renew(token)
        if response is None:
            self._fail(SessionState.ERROR, "The daemon could not be reached to renew the session.")
        elif response.is_success:
            self._renewed(token, response)
        else:
            await self._refused(token, response)

    async def _put_renew(self, token: Token) -> httpx.Response | None:
        """PUT .../renew with retries on network errors and 429/5xx; None once they run out."""
        import httpx  # at the first renewal: see waiaas_core.lazy_http

        url = f"/v1/sessions/{quote(token.session_id, safe='')}/renew"
        headers = {"Authorization": f"Bearer {token.raw}"}
        retries = len(self._retry_delays)
        for attempt in range(retries + 1):
            try:
                response = await client_of(self._http).put(
                    url, headers=headers, timeout=self._request_timeout
                )
            except httpx.TransportError as exc:
                cause = f"network error ({type(exc).__name__})"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                cause = f"HTTP {response.status_code}"
            if attempt == retries:
                log.error("Renewal failed after %d retries: %s", retries, cause)
                return None
            delay = self._retry_delays[attempt]
            log.warning(
                "Renewal retry %d/%d in %dms (%s)", attempt + 1, retries, round(delay * 1000), cause
            )
            await anyio.sleep(delay)
        return None  # pragma: no cover - the loop always returns

    def _renewed(self, old: Token, response: httpx.Response) -> None:
        body = _json(response)
        raw = body.get("token") if isinstance(body, dict) else None
        try:
            if not isinstance(raw, str):
                raise TokenProblem(SessionState.ERROR, "The renewal answer holds no token.")
            token = self._inspect(raw)
        except TokenProblem as problem:
            self._rejected.add(old.raw)
            self._fail(SessionState.ERROR, f"Unusable renewal answer: {problem.message}")
            return
        # File first: a process that starts now, or a sibling after a 409, finds the new
        # token there; only then does this process switch to it.
        self._write_file(raw)
        assert isinstance(body, dict)
        self._renewal = {
            key: body.get(key) for key in ("renewalCount", "maxRenewals", "absoluteExpiresAt")
        }
        log.info("Session renewed: token %s replaces %s", token.fingerprint, old.fingerprint)
        self._activate(token, source="renewal")

    async def _refused(self, token: Token, response: httpx.Response) -> None:
        error = WaiaasError.from_body(_json(response), response.status_code)
        if response.status_code == 409 or error.code == "RENEWAL_CONFLICT":
            await self._on_conflict(token)
        elif error.code == "RENEWAL_TOO_EARLY":
            self._on_too_early()
        elif response.status_code in (401, 404) or error.code in EXPIRING_CODES:
            self._expire(token.raw, f"The daemon refused to renew the session ({error.code}).")
        else:
            # Not worth retrying with the same token; the recovery loop waits for another.
            self._rejected.add(token.raw)
            self._fail(
                SessionState.ERROR, f"The daemon refused to renew the session ({error.code})."
            )

    async def _on_conflict(self, token: Token) -> None:
        """Someone else renewed this token: the file should hold their new one."""
        log.info("Renewal conflict: reading %s for the token renewed elsewhere", self._token_file)
        if await self._adopt_from_file(exclude=token.raw, source="token file after a 409"):
            return
        # The daemon writes the winner's token only after its commit, which may land a
        # moment after our 409: look again a few times before giving up.
        for delay in self._conflict_rereads:
            await anyio.sleep(delay)
            if self._token is not token or self._state is not SessionState.ACTIVE:
                return  # something else (a 401 recheck) moved on meanwhile
            if await self._adopt_from_file(exclude=token.raw, source="token file after a 409"):
                return
        self._expire(
            token.raw, "The token was renewed elsewhere and the token file holds no newer one."
        )

    def _on_too_early(self) -> None:
        if not self._too_early_retried:
            self._too_early_retried = True
            self._schedule(self._too_early_delay, why="the daemon said too early")
            return
        self._too_early_retried = False
        log.warning("Renewal still too early after the retry; rescheduling normally")
        self._schedule_renewal()

    def _write_file(self, raw: str) -> None:
        path = self._token_file
        if path is None:
            log.warning("No token file to keep the renewed token in")
            return
        try:
            if not path.parent.exists():
                if path.parent.name == TOKENS_DIR:
                    ensure_private_dir(path.parent.parent)
                ensure_private_dir(path.parent)
            write_secret_file(path, raw + "\n")
        except OSError as exc:
            # The daemon has rotated already; keep serving the new token from memory.
            log.error("Cannot write the renewed token to %s: %s", path, exc.strerror or exc)

    # -- recovery ---------------------------------------------------------------

    def _start_recovery(self) -> None:
        if self._recovery is not None or self._disposed or self._tg is None:
            return
        if self._token_file is None:
            log.error("No token file to watch; restart waiaas-mcp after fixing the configuration")
            return
        scope = anyio.CancelScope()
        self._recovery = scope
        self._tg.start_soon(self._recover, scope)

    async def _recover(self, scope: anyio.CancelScope) -> None:
        log.info("Watching %s for a new token every %gs", self._token_file, self._recovery_poll)
        with scope:
            while True:
                await anyio.sleep(self._recovery_poll)
                if await self._recover_once():
                    break
        if self._recovery is scope:
            self._recovery = None

    async def _recover_once(self) -> bool:
        raw = await self._read_file()
        if raw is None or raw in self._rejected:
            return False
        try:
            token = self._inspect(raw)
        except TokenProblem:
            return False
        # After an error (daemon unreachable) the same, still valid token is tried again.
        self._activate(token, source="token file (recovery)")
        return True

    def _stop_recovery(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            self._recovery = None


def decode_payload(token: str) -> dict[str, Any]:
    """The JWT payload of ``wai_sess_<jwt>`` without checking it; ValueError if unreadable.

    Not ``waiaas_core.tokens.decode_unverified``: that module imports PyJWT, and PyJWT
    imports ``cryptography``, a large share of this server's cold start, for a base64
    and JSON decode. The daemon verifies; this only learns ``sub``, ``wlt`` and ``exp``.
    """
    raw = token.strip().removeprefix(TOKEN_PREFIX)
    parts = raw.split(".")
    if len(parts) != 3 or len(raw) > MAX_TOKEN_CHARS:
        raise ValueError("not a JWT")
    segment = parts[1]
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        payload = json.loads(data)
    except (ValueError, RecursionError) as exc:  # binascii.Error is a ValueError
        raise ValueError("token payload is not a readable JWT") from exc
    if not isinstance(payload, dict):
        raise ValueError("token payload is not an object")
    return payload


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _file_message(path: Path | None, exc: TokenFileError) -> str:
    return f"The token file {path} cannot be used: {exc}. Run 'waiaas mcp setup' to write it again."


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
