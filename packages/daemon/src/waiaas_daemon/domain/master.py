"""masterAuth: constant-time comparison with the password held in memory, and lockout.

After ``attempts`` failures within ``seconds``, every masterAuth request is
429 until ``seconds`` have passed since the failure that reached the count.
That failure itself is still answered 401. The failures and the lockout are
saved in the database before the 401 goes out, so a restart forgets neither.
On a database several daemons share, each check reads them first (``load``), so
a guesser spread over N daemons gets the same attempts as against one.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon.storage import MasterLockoutRow

Save = Callable[[MasterLockoutRow], Awaitable[None]]
Load = Callable[[], Awaitable[MasterLockoutRow]]


def after_failure(
    lockout: MasterLockoutRow, now: float, *, attempts: int, seconds: int
) -> MasterLockoutRow:
    """The lockout after one more failure at ``now``: pure, so it is tested alone."""
    failures = (*(t for t in lockout.failures if t > now - seconds), now)
    if len(failures) >= attempts:
        return MasterLockoutRow((), now + seconds)
    return MasterLockoutRow(failures, lockout.locked_until)


def seconds_left(lockout: MasterLockoutRow, now: float) -> int:
    """Whole seconds until the lockout ends (0: not locked), for Retry-After."""
    return max(0, math.ceil(lockout.locked_until - now))


async def _forget(_: MasterLockoutRow) -> None:
    return None


class MasterGuard:
    def __init__(
        self,
        password: str,
        *,
        attempts: int,
        seconds: int,
        clock: Callable[[], float],
        lockout: MasterLockoutRow | None = None,
        save: Save = _forget,
        load: Load | None = None,
    ) -> None:
        self._password = password.encode()
        self._attempts = attempts
        self._seconds = seconds
        self._clock = clock
        self._lockout = lockout or MasterLockoutRow()
        self._save = save
        # Set on a shared database: another daemon may have counted failures meanwhile.
        self._load = load
        # Changes are saved one at a time, so a slower save never overwrites a newer one.
        self._saving = anyio.Lock()

    @property
    def locked_until(self) -> float:
        return self._lockout.locked_until

    @property
    def attempts(self) -> int:
        return self._attempts

    async def check(self, offered: bytes | None) -> None:
        """``offered`` is the raw header value (UTF-8 of the password)."""
        now = self._clock()
        if self._load is not None:
            self._lockout = await self._load()
        wait = seconds_left(self._lockout, now)
        if wait:
            raise WaiaasError(
                "MASTER_PASSWORD_LOCKED", hint=f"Try again in {wait} seconds.", retry_after=wait
            )
        if offered is None:
            raise WaiaasError("INVALID_MASTER_PASSWORD", "The X-Master-Password header is missing.")
        if hmac.compare_digest(offered, self._password):
            if self._lockout.failures:
                await self._change(lambda old: MasterLockoutRow((), old.locked_until))
            return
        await self._change(
            lambda old: after_failure(old, now, attempts=self._attempts, seconds=self._seconds)
        )
        raise WaiaasError("INVALID_MASTER_PASSWORD")

    async def _change(self, update: Callable[[MasterLockoutRow], MasterLockoutRow]) -> None:
        # Computed from the state under the lock: concurrent failures all count.
        async with self._saving:
            if self._load is not None:
                self._lockout = await self._load()
            self._lockout = update(self._lockout)
            await self._save(self._lockout)
