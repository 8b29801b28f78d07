"""The owner's Telegram bot (issue 19): decisions from the linked chat, by long polling.

``updates`` decides what an update asks for (pure), ``bot`` does it against
the daemon, ``poller`` is the getUpdates loop, ``prompts`` puts the buttons
on approval messages, ``api`` is the Bot API client, ``link`` the link codes.
"""

from waiaas_daemon.domain.telegram.link import telegram_linked
from waiaas_daemon.domain.telegram.poller import Poller, running_bot
from waiaas_daemon.domain.telegram.prompts import Prompts

__all__ = ["Poller", "Prompts", "running_bot", "telegram_linked"]
