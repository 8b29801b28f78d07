"""The daemon's background workers kept alive, and what ``/health`` says about them.

Each worker (scheduler, settlement, notifications, the Telegram poller, /mcp's
transport, the storage watch) runs under its own ``supervise`` loop: an exception
ends that worker's current run only, and it starts again after a backoff, so one
worker's failure never stops another. A worker reports a failed pass with
``Workers.failed`` (which answers how long to wait) and a good one with
``Workers.ok``: the log gets one line when a failure streak starts and one when
it ends, never one per retry, and ``/health`` lists the workers failing now and
since when (docs/notes/supervision.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon.storage import Storage, unavailable

log = logging.getLogger("waiaas.workers")

#: The pseudo-worker that stands for the database itself (requests answer 503 while it fails).
STORAGE = "storage"

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


def backoff_delay(failures: int, first: float = FIRST_BACKOFF, most: float = MAX_BACKOFF) -> float:
    """Seconds to wait after ``failures`` failures in a row: first, 2x, 4x ... most."""
    if failures <= 0:
        return 0.0
    return float(min(first * 2 ** min(failures - 1, 30), most))


def describe(error: BaseException | str) -> str:
    """A failure in a few secret-free words: a code or the exception's class name.

    Messages of drivers and HTTP clients may quote URLs (with passwords or bot
    tokens in them), so an exception is named by its class only.
    """
    if isinstance(error, str):
        return error
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code.isupper() else type(error).__name__


@dataclass(frozen=True)
class Trouble:
    """A worker failing now: since when (unix seconds), how often in a row, the last error."""

    worker: str
    since: float
    failures: int
    error: str
    # The kinds of failure seen in this streak (every kind of "database unavailable" is one).
    kinds: frozenset[str] = frozenset()


class Workers:
    """Which workers fail now. The daemon holds one; ``/health`` reads ``troubles()``."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self._clock = clock
        self._first = first_backoff
        self._most = max_backoff
        self._troubles: dict[str, Trouble] = {}
        # Set when the database is found unavailable; ``watch_storage`` probes it back.
        # Made on first use: an anyio Event needs the running event loop.
        self._storage_lost: anyio.Event | None = None

    def failed(self, worker: str, error: BaseException | str) -> float:
        """Note a failed pass; answer the seconds to wait before the next try.

        The first failure of a streak is logged (one WARNING line, no traceback:
        the failures that reach here are the outside world's, a database or a
        node gone); the next ones only at DEBUG, but for one WARNING line for each
        other kind of failure the streak meets (the database back, the node not).
        """
        words = kind = describe(error)
        if isinstance(error, BaseException) and unavailable(error):
            kind = STORAGE
            if worker != STORAGE:
                self.lose_storage(error)
        known = self._troubles.get(worker)
        if known is None:
            known = Trouble(worker, self._clock(), 1, words, frozenset({kind}))
            if worker == STORAGE:
                log.warning(
                    "the database is unavailable (%s): requests answer 503 STORAGE_UNAVAILABLE "
                    "and background work waits until it is back",
                    words,
                )
            else:
                log.warning(
                    "%s: failing (%s); it keeps trying with backoff and resumes by itself",
                    worker,
                    words,
                )
        elif kind not in known.kinds:
            # Failing for another reason now (the database came back, the node did
            # not): said once, or the streak's first line would tell only half of it.
            known = Trouble(worker, known.since, known.failures + 1, words, known.kinds | {kind})
            log.warning("%s: now failing (%s), %d in a row", worker, words, known.failures)
        else:
            known = Trouble(worker, known.since, known.failures + 1, words, known.kinds)
            log.debug("%s: still failing (%s), %d in a row", worker, words, known.failures)
        self._troubles[worker] = known
        return backoff_delay(known.failures, self._first, self._most)

    def ok(self, worker: str) -> None:
        """A good pass: the streak, if any, ends (one INFO line)."""
        known = self._troubles.pop(worker, None)
        if known is not None and worker == STORAGE:
            log.warning("the database is back after %.0f s", self._clock() - known.since)
        elif known is not None:
            log.info(
                "%s: working again after %d failure(s) over %.0f s",
                worker,
                known.failures,
                self._clock() - known.since,
            )

    def lose_storage(self, error: BaseException) -> None:
        """The database failed a request or a worker: one line per outage, then the watch probes."""
        if not self.failing(STORAGE):
            self.failed(STORAGE, error)
        self._lost().set()

    async def wait_storage_lost(self) -> None:
        await self._lost().wait()

    def storage_back(self) -> None:
        self._storage_lost = None
        self.ok(STORAGE)

    def _lost(self) -> anyio.Event:
        if self._storage_lost is None:
            self._storage_lost = anyio.Event()
        return self._storage_lost

    def failures(self, worker: str) -> int:
        known = self._troubles.get(worker)
        return 0 if known is None else known.failures

    def failing(self, worker: str) -> bool:
        return worker in self._troubles

    def troubles(self) -> list[Trouble]:
        """The failing workers, the longest failing first."""
        return sorted(self._troubles.values(), key=lambda t: (t.since, t.worker))


async def supervise(
    name: str,
    run: Callable[[], Awaitable[Any]],
    workers: Workers,
    *,
    sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
) -> None:
    """Run ``run`` for ever: when it raises (or returns), note it, back off, start it again.

    Cancellation (the daemon stopping) ends it; nothing else does. A worker that
    keeps its own state across passes reports ``ok`` itself after a good one.
    """
    while True:
        try:
            await run()
        except Exception as exc:
            expected = unavailable(exc) or isinstance(exc, WaiaasError)
            if not workers.failing(name) and not expected:
                # Not the database gone: maybe a defect of ours. Its traceback, once a streak.
                log.error("%s stopped by an unexpected error", name, exc_info=exc)
            delay = workers.failed(name, exc)
        else:
            delay = workers.failed(name, "stopped")
        await sleep(delay)


async def watch_storage(
    db: Storage,
    workers: Workers,
    *,
    sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
) -> None:
    """After the database was found unavailable: probe it with backoff until it is back.

    The probe is a write transaction, so a SQLite file locked by another process
    counts as unavailable too (its readers would still get through).
    """
    while True:
        await workers.wait_storage_lost()
        while True:
            try:
                async with db.transaction() as conn:
                    await conn.execute("SELECT 1")
            except Exception as exc:
                if not unavailable(exc):
                    raise
                await sleep(workers.failed(STORAGE, exc))
                continue
            break
        workers.storage_back()
