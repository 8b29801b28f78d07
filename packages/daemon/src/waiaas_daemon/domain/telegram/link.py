"""The owner chat binding: a one-time code shown by the CLI, sent to the bot from that chat."""

from __future__ import annotations

import secrets
from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.telegram.updates import hash_secret
from waiaas_daemon.storage import Event
from waiaas_daemon.storage import telegram as store

if TYPE_CHECKING:
    from waiaas_daemon.domain.state import DaemonState

CODE_TTL = 600
# No 0/O, 1/I/L: the owner may type it on a phone. 10 characters: about 48 bits.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
# Wrong link codes one chat may send in GUESS_WINDOW seconds; beyond, its codes are not
# even looked at (nor answered) until the oldest leaves the window.
MAX_GUESSES = 5
GUESS_WINDOW = 3600
# Chats whose guesses are remembered (the oldest forgotten first): memory stays bounded.
GUESS_CHATS = 10_000


class Guesses:
    """Wrong link codes per chat within the window, in the polling daemon's memory.

    A restart or a hand-over to another daemon forgets them: at most MAX_GUESSES
    more tries against a 48-bit code that lives 10 minutes (docs/notes/telegram.md).
    """

    def __init__(self, limit: int = MAX_GUESSES, window: int = GUESS_WINDOW) -> None:
        self._limit = limit
        self._window = window
        self._wrong: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked(self, chat_id: str, now: float) -> bool:
        """Has ``chat_id`` used up its guesses?"""
        times = self._wrong.get(chat_id)
        if times is None:
            return False
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._wrong[chat_id]
            return False
        return len(times) >= self._limit

    def wrong(self, chat_id: str, now: float) -> int:
        """Count a wrong code; how many the chat has left."""
        times = self._wrong.setdefault(chat_id, deque())
        self._wrong.move_to_end(chat_id)
        times.append(now)
        while len(self._wrong) > GUESS_CHATS:
            self._wrong.popitem(last=False)
        return max(self._limit - len(times), 0)


def _configured(state: DaemonState) -> None:
    if not state.settings.telegram_bot_token:
        raise WaiaasError(
            "TELEGRAM_NOT_CONFIGURED",
            hint="Set telegram_bot_token and telegram_chat_id in [notifications], then restart.",
        )


async def start(state: DaemonState) -> tuple[str, int]:
    """A new code (the previous one stops working); only its hash is kept."""
    _configured(state)
    code = "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))
    now = state.now()
    await store.new_link_code(state.db, hash_secret(code), now, now + CODE_TTL)
    return code, now + CODE_TTL


async def telegram_linked(state: DaemonState) -> bool:
    return await store.owner_chat(state.db) is not None


def linked_changed(state: DaemonState, linked: bool) -> None:
    """The notifier treats Telegram as a channel while a chat is linked (no chat id needed)."""
    if state.notifier is not None:
        state.notifier.telegram_linked = linked


async def unlink(state: DaemonState) -> bool:
    owner = await store.owner_chat(state.db)
    details = {"chatId": owner.chat_id if owner else None}
    event = Event("owner", "telegram.unlink", details=details)
    unlinked = await store.unlink(state.db, [event])
    linked_changed(state, False)
    return unlinked
