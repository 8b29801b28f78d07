"""The request each channel gets for one event: pure functions, no I/O.

Channels come from ``[notifications]`` (SPEC 13); each is off while its keys
are empty. Every builder returns an ``OutgoingRequest`` that the worker sends
as is, so the exact bytes are tested without a network.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from waiaas_core.config import Settings
from waiaas_daemon.domain.notify.messages import Message

CHANNELS = ("webhook", "ntfy", "telegram", "discord", "slack")
USER_AGENT = "waiaas-notify/1"
# Service limits on one message (Telegram 4096 characters, Discord 2000).
_TELEGRAM_MAX = 4096
_DISCORD_MAX = 2000


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    at: int
    wallet_id: str | None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes


def configured_channels(settings: Settings, *, telegram_linked: bool = False) -> tuple[str, ...]:
    """The channels on; Telegram with a bot token and a chat (configured, or linked to the bot)."""
    telegram_chat = bool(settings.telegram_chat_id) or telegram_linked
    present = {
        "webhook": bool(settings.webhook_url),
        "ntfy": bool(settings.ntfy_url),
        "telegram": bool(settings.telegram_bot_token) and telegram_chat,
        "discord": bool(settings.discord_webhook_url),
        "slack": bool(settings.slack_webhook_url),
    }
    return tuple(name for name in CHANNELS if present[name])


def wanted(settings: Settings, event_type: str) -> bool:
    """``events = []`` means all; a ``test`` is always sent, since the owner asked for it."""
    return event_type == "test" or not settings.events or event_type in settings.events


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _headers(content_type: str, **extra: str) -> dict[str, str]:
    return {"Content-Type": content_type, "User-Agent": USER_AGENT, **extra}


def _plain(message: Message, limit: int | None = None) -> str:
    text = f"{message.title}\n{message.text}"
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def webhook_body(event: Event) -> bytes:
    body: dict[str, Any] = {"id": event.id, "type": event.type, "at": event.at}
    if event.wallet_id is not None:
        body["walletId"] = event.wallet_id
    body["data"] = dict(event.data)
    return _json(body)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, as a receiver recomputes it."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_request(url: str, secret: str, event: Event, *, now: float) -> OutgoingRequest:
    body = webhook_body(event)
    headers = _headers("application/json", **{"X-Waiaas-Event-Id": event.id})
    if secret:
        # Signed at each attempt, so a receiver may refuse old timestamps (replays).
        headers["X-Waiaas-Signature"] = signature(secret, int(now), body)
    return OutgoingRequest("POST", url, headers, body)


def ntfy_request(url: str, message: Message) -> OutgoingRequest:
    extra = {"Title": message.title, "Priority": message.priority}
    if message.link:
        extra["Click"] = message.link
    headers = _headers("text/plain; charset=utf-8", **extra)
    return OutgoingRequest("POST", url, headers, message.text.encode("utf-8"))


def telegram_request(api_url: str, token: str, chat_id: str, message: Message) -> OutgoingRequest:
    url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
    body = {"chat_id": chat_id, "text": _plain(message, _TELEGRAM_MAX)}
    return OutgoingRequest("POST", url, _headers("application/json"), _json(body))


def discord_request(url: str, message: Message) -> OutgoingRequest:
    body = {"content": _plain(message, _DISCORD_MAX)}
    return OutgoingRequest("POST", url, _headers("application/json"), _json(body))


def slack_request(url: str, message: Message) -> OutgoingRequest:
    body = {"text": _plain(message)}
    return OutgoingRequest("POST", url, _headers("application/json"), _json(body))


def build_request(
    channel: str, settings: Settings, event: Event, message: Message, *, now: float
) -> OutgoingRequest:
    if channel == "webhook":
        return webhook_request(settings.webhook_url, settings.webhook_secret, event, now=now)
    if channel == "ntfy":
        return ntfy_request(settings.ntfy_url, message)
    if channel == "telegram":
        return telegram_request(
            settings.telegram_api_url,
            settings.telegram_bot_token,
            settings.telegram_chat_id,
            message,
        )
    if channel == "discord":
        return discord_request(settings.discord_webhook_url, message)
    if channel == "slack":
        return slack_request(settings.slack_webhook_url, message)
    raise ValueError(f"unknown channel {channel!r}")


def mask_url(url: str) -> str:
    """Scheme and host only: the path or query of these URLs is the credential."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


def settings_view(settings: Settings) -> dict[str, Any]:
    """``[notifications]`` as the API and the console may show it: no secret in it."""
    return {
        "channels": list(configured_channels(settings)),
        "events": list(settings.events),
        "webhookUrl": mask_url(settings.webhook_url),
        "webhookSecretSet": bool(settings.webhook_secret),
        "ntfyUrl": mask_url(settings.ntfy_url),
        "telegramBotTokenSet": bool(settings.telegram_bot_token),
        "telegramChatId": settings.telegram_chat_id,
        "telegramApiUrl": settings.telegram_api_url,
        "discordWebhookUrl": mask_url(settings.discord_webhook_url),
        "slackWebhookUrl": mask_url(settings.slack_webhook_url),
    }
