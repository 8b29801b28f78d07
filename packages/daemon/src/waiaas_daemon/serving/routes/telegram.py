"""masterAuth: link the owner's Telegram chat to the bot, see the binding, unlink it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.domain.telegram import link
from waiaas_daemon.schemas.telegram import OwnerChat, TelegramLinkCode, TelegramStatus
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.storage import telegram as store


async def _status(state: DaemonState) -> TelegramStatus:
    owner = await store.owner_chat(state.db)
    bot = state.telegram
    return TelegramStatus(
        configured=bool(state.settings.telegram_bot_token),
        running=bot is not None and bot.running,
        polling=bot is not None and bot.polling,
        owner_chat=None
        if owner is None
        else OwnerChat(chat_id=owner.chat_id, name=owner.name, linked_at=owner.linked_at),
        link_pending_until=await store.link_pending(state.db, state.now()),
        ignored=await store.ignored(state.db),
        update_offset=await store.offset(state.db),
        last_error=bot.last_error if bot is not None else None,
    )


async def telegram_status(request: Request) -> TelegramStatus:
    """The bot: running or not, the linked owner chat, messages ignored from other chats."""
    return await _status(state_of(request))


async def start_link(request: Request) -> TelegramLinkCode:
    """A one-time code (10 minutes) to send to the bot from the chat that will decide."""
    code, expires_at = await link.start(state_of(request))
    created_at = expires_at - link.CODE_TTL
    return TelegramLinkCode(
        code=code, created_at=created_at, expires_at=expires_at, send=f"/start {code}"
    )


async def unlink(request: Request) -> TelegramStatus:
    """Forget the owner chat: the bot decides nothing until the next link."""
    state = state_of(request)
    await link.unlink(state)
    return await _status(state)


def routes() -> list[Route]:
    return [
        operation("GET", "/v1/telegram", telegram_status, auth="master", tag="telegram"),
        operation(
            "POST",
            "/v1/telegram/link",
            start_link,
            auth="master",
            tag="telegram",
            status=201,
            errors=("TELEGRAM_NOT_CONFIGURED",),
        ),
        operation("DELETE", "/v1/telegram/link", unlink, auth="master", tag="telegram"),
    ]
