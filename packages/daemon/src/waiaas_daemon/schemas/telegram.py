"""Models of the Telegram owner-chat routes (issue 19)."""

from __future__ import annotations

from waiaas_daemon.schemas._base import Model
from waiaas_daemon.schemas.system import UnixTime


class TelegramLinkCode(Model):
    """A one-time code: send it to the bot from your own private chat with it."""

    code: str
    created_at: UnixTime
    expires_at: UnixTime
    send: str


class OwnerChat(Model):
    chat_id: str
    name: str | None
    linked_at: UnixTime


class TelegramStatus(Model):
    configured: bool
    running: bool
    # This daemon long-polls Telegram now; on a shared database one daemon does,
    # the others run the bot in standby (running, not polling).
    polling: bool
    owner_chat: OwnerChat | None
    link_pending_until: UnixTime | None
    ignored: int
    update_offset: int
    last_error: str | None
