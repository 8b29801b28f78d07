"""The bot's I/O loop: long-poll ``getUpdates``, hand each update to the bot, persist the offset.

No inbound port: it works behind NAT. Telegram down, slow or refusing is
backed off (``backoff`` doubling up to ``max_backoff``, all injectable, with
an injectable ``sleep``; a 429 waits exactly its ``retry_after``), never a
crash, and the backoff starts again at ``backoff`` after a poll that went
well. Of each batch the owner chat's updates are handled first. The offset
is saved as updates are handled (never past one that is not), so a restart
neither loses an update nor, since every handling is idempotent, does
anything twice.

On a database several daemons share, one of them polls (``Storage.exclusive``);
the others wait and take over when it stops or dies. The offset is in the
database, so the next poller goes on where the last one confirmed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from waiaas_daemon.domain.telegram.api import BotApi, TelegramError, TelegramUnavailable
from waiaas_daemon.domain.telegram.bot import Bot
from waiaas_daemon.domain.telegram.status import PollerStatus
from waiaas_daemon.domain.telegram.updates import owner_first
from waiaas_daemon.domain.workers import describe, supervise
from waiaas_daemon.storage import telegram as store

if TYPE_CHECKING:
    from waiaas_daemon.domain.state import DaemonState

log = logging.getLogger("waiaas.telegram")

POLL_TIMEOUT = 30.0
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
POISON_TRIES = 3
# Decided prompts are kept this long (a late tap is still told what happened), then dropped.
KEEP_PROMPTS = 30 * 86400
# The role one daemon of a shared database plays: long-polling this bot token.
ROLE = "telegram-poller"
WORKER = "telegram"


def backoff_delay(failures: int, first: float = FIRST_BACKOFF, most: float = MAX_BACKOFF) -> float:
    """Seconds to wait after ``failures`` failures in a row: first, 2x, 4x ... most."""
    return float(min(first * 2 ** min(failures - 1, 30), most))


class Poller:
    def __init__(
        self,
        state: DaemonState,
        client: httpx.AsyncClient,
        *,
        poll_timeout: float = POLL_TIMEOUT,
        first_backoff: float = FIRST_BACKOFF,
        max_backoff: float = MAX_BACKOFF,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        settings = state.settings
        self._state = state
        self._api = BotApi(client, settings.telegram_api_url, settings.telegram_bot_token)
        self.bot = Bot(state, self._api)
        self._poll_timeout = poll_timeout
        self._first = first_backoff
        self._most = max_backoff
        self._sleep = sleep
        self.status = PollerStatus()
        # An update whose handling keeps failing for a reason of ours is skipped at last.
        self._poison: tuple[int, int] = (-1, 0)

    async def run(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll for as long as the app runs; on a shared database only while this
        daemon holds the poller's role (Telegram answers 409 to a second getUpdates)."""
        self.status.running = True
        task_status.started()
        db = self._state.db
        try:
            while True:
                try:
                    async with db.exclusive(ROLE):
                        self.status.polling = True
                        await store.prune_prompts(db, self._state.now() - KEEP_PROMPTS)
                        while await db.holds(ROLE):
                            await self.step()
                        # Its connection broke: another daemon may poll now. Wait for the role.
                        self.status.polling = False
                        log.warning("telegram: the poller's database lock was lost; waiting")
                except Exception as exc:  # the database unreachable must not end the bot
                    self.status.polling = False
                    await self._failed(exc)
        finally:
            self.status.running = self.status.polling = False

    async def step(self) -> None:
        """One getUpdates and the handling of what it brought (or one backoff)."""
        try:
            await self.bot.close_settled()
            offset = await store.offset(self._state.db)
            updates = await self._api.get_updates(offset, self._poll_timeout)
            await self._handle_batch(updates, offset)
        except TelegramUnavailable as exc:
            await self._failed(str(exc), exc.retry_after)
            return
        except TelegramError as exc:
            await self._failed(str(exc))
            return
        except Exception as exc:  # a database hiccup must not end the bot
            await self._failed(exc)
            return
        self.status.failures, self.status.last_error = 0, None
        self._state.workers.ok(WORKER)

    async def _handle_batch(self, updates: list[dict[str, Any]], offset: int) -> None:
        """The owner's updates first; the offset confirms only what was handled, so an
        owner's update handled ahead of a stranger's is handled again after a crash
        (harmless: every handling is idempotent), and none is ever skipped."""
        left = sorted({u["update_id"] for u in updates})
        if not left:
            return
        last = left[-1]
        for update in owner_first(updates, await self.bot.owner_chat()):
            await self._handle(update)
            if update["update_id"] in left:
                left.remove(update["update_id"])
            confirmed = left[0] if left else last + 1
            if confirmed != offset:
                await store.save_offset(self._state.db, confirmed)
                offset = confirmed

    async def _handle(self, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        try:
            await self.bot.handle(update)
        except TelegramUnavailable:
            raise  # kept: handled again once Telegram answers
        except TelegramError as exc:
            if exc.retry:
                raise
            await self._poisoned(update_id)
        except Exception:  # the bot must outlive any single update
            await self._poisoned(update_id)
        self.status.handled += 1

    async def _poisoned(self, update_id: int) -> None:
        """Handled again later, unless it failed ``POISON_TRIES`` times in a row: skipped."""
        log.exception("telegram update %d: handling failed", update_id)
        seen, count = self._poison
        self._poison = (update_id, count + 1 if seen == update_id else 1)
        if self._poison[1] < POISON_TRIES:
            raise TelegramUnavailable("handling", "an internal error") from None
        log.error("telegram update %d skipped after %d failures", update_id, POISON_TRIES)

    async def _failed(self, error: str | Exception, retry_after: float | None = None) -> None:
        """Wait before the next poll: Telegram's own ``retry_after`` when it gave one (flood
        control), else the backoff, which ``step`` resets after a poll that went well.
        One log line per failure streak (workers.py), not one per retry."""
        self._state.workers.failed(WORKER, error)
        words = describe(error)
        self.status.failures += 1
        self.status.last_error = words
        if retry_after is not None:
            delay = retry_after
        else:
            delay = backoff_delay(self.status.failures, self._first, self._most)
        # Method and status only (the messages are built without the URL, so no token).
        log.debug("telegram: %s; trying again in %.0f s", words, delay)
        await self._sleep(delay)


@asynccontextmanager
async def running_bot(state: DaemonState, **options: Any) -> AsyncIterator[Poller | None]:
    """The bot for the app's lifespan; nothing when no bot token is configured."""
    if not state.settings.telegram_bot_token:
        yield None
        return
    async with httpx.AsyncClient(follow_redirects=False) as client:
        poller = Poller(state, client, **options)
        state.telegram = poller.status
        async with anyio.create_task_group() as group:
            poller.status.running = True  # as from the first request on, before its first pass
            group.start_soon(supervise, WORKER, poller.run, state.workers)
            try:
                yield poller
            finally:
                state.telegram = None
                group.cancel_scope.cancel()
