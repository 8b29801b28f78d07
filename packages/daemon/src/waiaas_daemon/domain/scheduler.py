"""The background task that runs QUEUED sends at executeAt and expires PENDING_APPROVAL ones
(and APPROVED payments the agent did not pay in time).

It acts through the owner-decision functions of ``pending``; nothing else imports it:
the domain tells it that waiting sends changed through ``DaemonState.waiting_changed``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import settlement
from waiaas_daemon.domain.pending import execute, expire
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.domain.workers import supervise

log = logging.getLogger("waiaas_daemon.domain.scheduler")

# While something due is held (kill switch, suspension), look again this often;
# turning the kill switch off or resuming a wallet wakes the scheduler at once.
HELD_RETRY = 60
MAX_SLEEP = 3600
# On a shared database other daemons queue sends and die without telling this
# one: it looks again at least this often.
SHARED_POLL = 1.0
WORKER = "scheduler"
# While an EVM send is on its way (not yet deep enough, or stuck in a mempool).
FOLLOW_UP_POLL = 5.0


class Scheduler:
    """Runs QUEUED sends at executeAt and expires PENDING_APPROVAL ones.

    Time comes from the daemon's clock, waiting from ``sleep``: tests pass a
    sleep that never returns and call ``run_due`` after moving their clock.
    A pass the database fails ends ``run`` (its supervisor starts it again after
    a backoff); a send the chain could not take yet stays QUEUED and the next
    pass comes after a backoff, the scheduler reported failing meanwhile.
    """

    def __init__(
        self, state: DaemonState, sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    ) -> None:
        self._state = state
        self._sleep = sleep
        self._wake = anyio.Event()
        # The "now" of the last pass: what was due by then and is still waiting is held.
        self._checked: int | None = None
        # A due send the chain could not take in the last pass (a retryable error).
        self._transient: WaiaasError | None = None
        # EVM sends still on their way after the last pass: look again soon.
        self._following = False

    def wake(self) -> None:
        """Something changed (a new waiting send, kill switch off, a resume): look again."""
        self._wake.set()

    async def run(self) -> None:
        workers = self._state.workers
        while True:
            self._wake = anyio.Event()
            await self.run_due()
            delay = await self._delay()
            if self._transient is not None:
                delay = min(delay, workers.failed(WORKER, self._transient))
            else:
                workers.ok(WORKER)
            await self._wait(delay)

    async def run_due(self) -> int:
        """One pass: every send whose time came. Returns how many were settled."""
        done = 0
        now = self._checked = self._state.now()
        self._transient = None
        if not self._state.db.shared:
            # EVM sends on their way (on a shared database the settlement worker follows
            # them up with every other unsettled send).
            followed, self._following = await settlement.follow_up(self._state)
            done += followed
        for tx in await self._state.db.due_transactions(now):
            if tx.status in ("PENDING_APPROVAL", "APPROVED"):
                done += await expire(self._state, tx) is not None
                continue
            try:
                await execute(self._state, tx, actor="daemon", action="send_executed")
                done += 1
            except WaiaasError as exc:
                if exc.retryable:  # the chain away: it stays QUEUED, tried after a backoff
                    self._transient = exc
                    log.debug("queued send %s not run yet: %s", tx.id, exc.code)
                else:
                    log.info("queued send %s not run: %s", tx.id, exc.code)
        return done

    async def _delay(self) -> float:
        longest = SHARED_POLL if self._state.db.shared else MAX_SLEEP
        if self._following:
            longest = min(longest, FOLLOW_UP_POLL)
        due = await self._state.db.next_due()
        if due is None:
            return longest
        if self._checked is not None and due <= self._checked:
            # Due at the last pass and still waiting: held (kill switch, suspension).
            return min(HELD_RETRY, longest)
        # Due after the last pass looked, possibly already: look again then (or now).
        return min(max(0.0, due - self._state.clock()), longest)

    async def _wait(self, delay: float) -> None:
        async with anyio.create_task_group() as group:

            async def sleeper() -> None:
                await self._sleep(delay)
                group.cancel_scope.cancel()

            async def waker() -> None:
                await self._wake.wait()
                group.cancel_scope.cancel()

            group.start_soon(sleeper)
            group.start_soon(waker)


@asynccontextmanager
async def running_scheduler(state: DaemonState) -> AsyncIterator[Scheduler]:
    """The scheduler as a background task for the app's lifespan."""
    scheduler = Scheduler(state)
    async with anyio.create_task_group() as group:
        group.start_soon(supervise, WORKER, scheduler.run, state.workers)
        state.waiting_changed = scheduler.wake
        try:
            yield scheduler
        finally:
            state.waiting_changed = _nothing
            group.cancel_scope.cancel()


def _nothing() -> None:
    pass
