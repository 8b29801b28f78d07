"""The one background task that delivers the outbox, and the object callers enqueue through.

``Notifier.enqueue`` only writes rows in the caller's transaction and wakes
the worker; the caller never waits on a channel. The worker reads due
deliveries through ``Database.transaction()``: that waits for the writer lock,
so it runs after the enqueuing transaction has committed (or rolled back, and
then finds nothing). Each delivery is its own task with a short total
timeout, so a hanging receiver holds only its own slot.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.lowlevel
import httpx

from waiaas_core.config import Settings
from waiaas_core.lazy_http import LazyHttp
from waiaas_daemon.domain.notify import outbox
from waiaas_daemon.domain.notify.channels import (
    Event,
    OutgoingRequest,
    build_request,
    configured_channels,
    mask_url,
    wanted,
)
from waiaas_daemon.domain.notify.messages import render
from waiaas_daemon.domain.workers import Workers, supervise
from waiaas_daemon.storage import telegram as telegram_store

if TYPE_CHECKING:  # storage imports this package for its migration
    from waiaas_daemon.storage import Storage

log = logging.getLogger("waiaas.notify")


class _MaskUrls(logging.Filter):
    """httpx logs every request's full URL at INFO; a Telegram URL holds the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _install_mask() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_MaskUrls())


_install_mask()

DEFAULT_TIMEOUT = 5.0
DEFAULT_CONCURRENCY = 8
# On a shared database: look for deliveries at least this often.
SHARED_POLL = 1.0
WORKER = "notifications"


class TelegramPrompts(Protocol):
    """The Telegram bot's hook: an approval message to the owner chat gets its buttons."""

    async def request(
        self, delivery: outbox.Delivery, request: OutgoingRequest
    ) -> tuple[OutgoingRequest, str | None]: ...

    async def sent(self, prompt: str, response: httpx.Response) -> None: ...


class DeliveryFailed(Exception):
    """A channel answered, but not with a 2xx."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.retry_after = retry_after


class Notifier:
    def __init__(
        self,
        db: Storage,
        settings: Settings | Callable[[], Settings],
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
        client: httpx.AsyncClient | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        base_url: Callable[[], str] | None = None,
        workers: Workers | None = None,
    ) -> None:
        self._db = db
        self._settings = settings if callable(settings) else (lambda: settings)
        self._clock = clock
        self._sleep = sleep
        self._client = client
        self._timeout = timeout
        self._concurrency = concurrency
        # The daemon's URL as bound (port 0 picks one), for the console links.
        self._base_url = base_url or (lambda: self._settings().base_url)
        self._busy: set[int] = set()
        self._wake = anyio.Event()
        # Set by the daemon when a Telegram bot token is configured (telegram.prompts).
        self.prompts: TelegramPrompts | None = None
        # An owner chat is linked to the bot: Telegram is a channel even without telegram_chat_id.
        self.telegram_linked = False
        # Where the worker reports failing and working again (the daemon's, read by /health).
        self.workers = workers or Workers(clock)

    # -- the API of the code that causes events ------------------------------

    async def enqueue(
        self,
        conn: Any,
        event_type: str,
        wallet_id: str | None,
        data: Mapping[str, Any],
        *,
        at: float,
    ) -> str | None:
        """Write the event for every configured channel that wants it, in ``conn``'s transaction.

        Returns the event id (None when no channel takes it).
        """
        settings = self._settings()
        channels: tuple[str, ...] = ()
        if wanted(settings, event_type):
            if self._db.shared and self.prompts is not None:
                # Another daemon's bot may have linked or unlinked the owner chat.
                self.telegram_linked = await telegram_store.linked_on(conn)
            channels = self.channels()
        event_id = await outbox.enqueue(conn, event_type, wallet_id, data, at=at, channels=channels)
        if event_id is not None:
            self.wake()
        return event_id

    def channels(self) -> tuple[str, ...]:
        return configured_channels(self._settings(), telegram_linked=self.telegram_linked)

    def wake(self) -> None:
        self._wake.set()

    # -- the worker ----------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Notifier]:
        """Run the worker for the duration of the block (the daemon's lifespan).

        Supervised: the database failing ends a run, and it starts again after a backoff.
        """
        async with anyio.create_task_group() as tg:
            await tg.start(self._supervised)
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _supervised(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """``run`` under its supervisor; started once the first run has pruned the outbox."""
        once = _Once(task_status)
        await supervise(
            WORKER, functools.partial(self.run, task_status=once), self.workers, sleep=self._sleep
        )

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        async with self._http() as client, anyio.create_task_group() as tg:
            async with self._db.transaction() as conn:
                await outbox.prune(conn, self._clock())
            task_status.started()
            while True:
                await self._step(tg, client)

    @asynccontextmanager
    async def _http(self) -> AsyncIterator[LazyHttp]:
        """The client of this run, made at its first delivery: a daemon with nothing to
        deliver never builds one (httpcore, the ssl context and its CA bundle)."""
        given = self._client
        if given is not None:
            yield LazyHttp(lambda: given)
            return
        async with LazyHttp(
            lambda: httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        ) as client:
            yield client

    async def _step(self, tg: anyio.abc.TaskGroup, client: LazyHttp) -> None:
        # The claim below is shielded; without this checkpoint a stop request could
        # land only there, and a worker always finding work would never stop.
        await anyio.lowlevel.checkpoint()
        # A new event before reading: a wake() during the read is not lost.
        self._wake = anyio.Event()
        free = self._concurrency - len(self._busy)
        if free <= 0:
            await self._wake.wait()  # a finishing delivery wakes us
            return
        try:
            ready, later = await self._claim(free)
        except Exception as exc:
            # The database away: deliveries in flight go on; claim again after a backoff.
            await self._wait(self.workers.failed(WORKER, exc))
            return
        self.workers.ok(WORKER)
        for delivery in ready:
            tg.start_soon(self._deliver, client, delivery)
        if len(ready) == free:
            return
        delay = None if later is None else max(0.0, later - self._clock())
        if self._db.shared:
            # Other daemons enqueue without waking this worker, and leases run out.
            delay = SHARED_POLL if delay is None else min(delay, SHARED_POLL)
        await self._wait(delay)

    async def _claim(self, free: int) -> tuple[list[outbox.Delivery], float | None]:
        """Due deliveries (marked busy) and when the next other one is due."""
        # Shielded: a cancel landing in BEGIN would leave the shared writer mid-transaction.
        with anyio.CancelScope(shield=True):
            async with self._db.transaction() as conn:
                ready = await outbox.due(conn, self._clock(), sorted(self._busy), free)
                self._busy.update(d.seq for d in ready)
                later = await outbox.next_attempt_at(conn, sorted(self._busy))
        return ready, later

    async def _wait(self, delay: float | None) -> None:
        async with anyio.create_task_group() as tg:

            async def sleeper(delay: float) -> None:
                await self._sleep(delay)
                tg.cancel_scope.cancel()

            async def waker() -> None:
                await self._wake.wait()
                tg.cancel_scope.cancel()

            if delay is not None:
                tg.start_soon(sleeper, delay)
            tg.start_soon(waker)

    async def _deliver(self, client: LazyHttp, delivery: outbox.Delivery) -> None:
        try:
            error, retry_after = await self._attempt(client, delivery)
            with anyio.CancelScope(shield=True):
                await self._record(delivery, error, retry_after)
        except Exception as exc:  # the worker must outlive any single delivery
            log.error(
                "notification %s to %s: %s",
                delivery.event_id,
                delivery.channel,
                type(exc).__name__,
            )
            # Back off as for a failed send, or the row is due again at once and spins.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self._record(delivery, type(exc).__name__, None)
        finally:
            self._busy.discard(delivery.seq)
            self.wake()

    async def _record(
        self, delivery: outbox.Delivery, error: str | None, retry_after: float | None
    ) -> None:
        now = self._clock()
        async with self._db.transaction() as conn:
            if error is None:
                await outbox.record_success(conn, delivery.seq, now)
                return
            status = await outbox.record_failure(conn, delivery, error, now, retry_after)
        # Event id and channel only: URLs and bodies may hold secrets.
        log.warning(
            "notification %s to %s failed (%s), attempt %d, now %s",
            delivery.event_id,
            delivery.channel,
            error,
            delivery.attempts + 1,
            status,
        )

    async def _attempt(
        self, client: LazyHttp, delivery: outbox.Delivery
    ) -> tuple[str | None, float | None]:
        """(None, None) on success, else (a secret-free error word, Retry-After seconds)."""
        request, prompt = self.request_for(delivery), None
        if self.prompts is not None and delivery.channel == "telegram":
            request, prompt = await self.prompts.request(delivery, request)
        try:
            with anyio.fail_after(self._timeout + 1):
                response = await client().request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.content,
                    timeout=self._timeout,
                )
        except TimeoutError:
            return "Timeout", None
        except httpx.HTTPError as exc:
            # The class name only: some httpx messages quote the URL, and URLs hold tokens.
            return type(exc).__name__, None
        if 200 <= response.status_code < 300:
            if prompt is not None and self.prompts is not None:
                await self.prompts.sent(prompt, response)
            return None, None
        return f"HTTP {response.status_code}", _retry_after(response)

    def request_for(self, delivery: outbox.Delivery) -> OutgoingRequest:
        settings = self._settings()
        event = Event(
            delivery.event_id, delivery.type, delivery.at, delivery.wallet_id, delivery.data
        )
        message = render(
            event.type, event.data, wallet_id=event.wallet_id, base_url=self._base_url()
        )
        return build_request(delivery.channel, settings, event, message, now=self._clock())


class _Once:
    """A task status whose ``started`` passes on the first call only (a restarted run calls
    it again)."""

    def __init__(self, status: Any) -> None:
        self._status: Any = status

    def started(self, value: Any = None) -> None:
        if self._status is not None:
            status, self._status = self._status, None
            status.started(value)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None
