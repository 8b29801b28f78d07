"""masterAuth: constant-time comparison with the password held in memory, and lockout.

After ``attempts`` failures within ``seconds``, every masterAuth request is
429 until ``seconds`` have passed since the failure that reached the count.
That failure itself is still answered 401.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable

from waiaas_core.errors import WaiaasError


class MasterGuard:
    def __init__(
        self, password: str, *, attempts: int, seconds: int, clock: Callable[[], float]
    ) -> None:
        self._password = password.encode()
        self._attempts = attempts
        self._seconds = seconds
        self._clock = clock
        self._failures: deque[float] = deque()
        self._locked_until = 0.0

    @property
    def locked_until(self) -> float:
        return self._locked_until

    @property
    def attempts(self) -> int:
        return self._attempts

    def check(self, offered: bytes | None) -> None:
        """``offered`` is the raw header value (UTF-8 of the password)."""
        now = self._clock()
        if now < self._locked_until:
            raise WaiaasError(
                "MASTER_PASSWORD_LOCKED",
                hint=f"Try again in {int(self._locked_until - now) + 1} seconds.",
            )
        if offered is None:
            raise WaiaasError(
                "INVALID_MASTER_PASSWORD",
                "The X-Master-Password header is missing.",
            )
        if hmac.compare_digest(offered, self._password):
            self._failures.clear()
            return
        self._record_failure(now)
        raise WaiaasError("INVALID_MASTER_PASSWORD")

    def _record_failure(self, now: float) -> None:
        self._failures.append(now)
        while self._failures and self._failures[0] <= now - self._seconds:
            self._failures.popleft()
        if len(self._failures) >= self._attempts:
            self._locked_until = now + self._seconds
            self._failures.clear()
