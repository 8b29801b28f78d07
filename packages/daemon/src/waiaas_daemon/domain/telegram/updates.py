"""What one Telegram update asks for: pure functions, no I/O (the poller does that).

``classify(update, owner_chat)`` turns a Bot API ``Update`` object into one
action: a link attempt, an owner command, an owner decision by button, a
callback from a foreign chat (audited), or something ignored (counted). The
callback data, the inline keyboard and the texts the bot writes are made here
too, so the whole protocol is tested without a network.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

# Telegram allows 1-64 bytes of callback data: "a:" + a 36-character id + ":" + 22 = 61.
_CALLBACK = re.compile(r"^([ar]):([0-9a-f-]{36}):([A-Za-z0-9_-]{16,24})$")
_LINK = re.compile(r"^/(?:start|link)(?:@\w+)?\s+([A-Za-z0-9]{6,32})$")
_COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?((?:\s+\S+)*)\s*$")
COMMANDS = ("status", "pending", "killswitch", "sessions", "revoke", "help", "start")

Kind = Literal["approve", "reject"]


@dataclass(frozen=True)
class Link:
    chat_id: str
    code: str
    name: str | None
    private: bool


@dataclass(frozen=True)
class Command:
    chat_id: str
    name: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Decide:
    chat_id: str
    callback_id: str
    message_id: int | None
    kind: Kind
    tx_id: str
    nonce: str
    text: str


@dataclass(frozen=True)
class Stale:
    """A callback from the owner chat whose data is not one of our buttons."""

    chat_id: str
    callback_id: str


@dataclass(frozen=True)
class Foreign:
    """A callback from a chat that is not the owner's: answered no, audited."""

    chat_id: str
    callback_id: str
    data: str


@dataclass(frozen=True)
class Ignored:
    chat_id: str | None
    why: str


Action = Link | Command | Decide | Stale | Foreign | Ignored


def hash_secret(value: str) -> str:
    """Link codes and button nonces are stored as this, never as themselves."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def callback_data(kind: Kind, tx_id: str, nonce: str) -> str:
    data = f"{kind[0]}:{tx_id}:{nonce}"
    assert len(data.encode()) <= 64, "Telegram refuses callback data over 64 bytes"
    return data


def parse_callback_data(data: str) -> tuple[Kind, str, str] | None:
    match = _CALLBACK.match(data)
    if match is None:
        return None
    kind: Kind = "approve" if match.group(1) == "a" else "reject"
    return kind, match.group(2), match.group(3)


def keyboard(tx_id: str, nonce: str, *, can_approve: bool) -> dict[str, Any]:
    """Approve and Reject; above the chat approval limit only Reject (always safe)."""
    buttons = []
    if can_approve:
        buttons.append({"text": "Approve", "callback_data": callback_data("approve", tx_id, nonce)})
    buttons.append({"text": "Reject", "callback_data": callback_data("reject", tx_id, nonce)})
    return {"inline_keyboard": [buttons]}


def _chat_id(message: Mapping[str, Any]) -> str | None:
    chat = message.get("chat")
    if not isinstance(chat, Mapping) or not isinstance(chat.get("id"), int):
        return None
    return str(chat["id"])


def _name(message: Mapping[str, Any]) -> str | None:
    sender = message.get("from") or message.get("chat") or {}
    if not isinstance(sender, Mapping):
        return None
    name = sender.get("username") or sender.get("first_name")
    return str(name)[:64] if name else None


def chat_of(update: Mapping[str, Any]) -> str | None:
    """The chat an update comes from (a message's, or the message under a tapped button)."""
    callback = update.get("callback_query")
    message = callback.get("message") if isinstance(callback, Mapping) else update.get("message")
    return _chat_id(message) if isinstance(message, Mapping) else None


def owner_first(updates: list[dict[str, Any]], owner_chat: str | None) -> list[dict[str, Any]]:
    """The owner chat's updates first, each group in Telegram's order: a stranger's
    flood never stands between the owner and a decision."""
    if owner_chat is None:
        return list(updates)
    return sorted(updates, key=lambda u: (chat_of(u) != owner_chat, u["update_id"]))


def classify(update: Mapping[str, Any], owner_chat: str | None) -> Action:
    """The one thing ``update`` asks for, given the linked owner chat (None: not linked)."""
    callback = update.get("callback_query")
    if isinstance(callback, Mapping):
        return _callback(callback, owner_chat)
    message = update.get("message")
    if not isinstance(message, Mapping):
        return Ignored(None, "not a message or a button")
    chat_id = _chat_id(message)
    text = message.get("text")
    if chat_id is None or not isinstance(text, str):
        return Ignored(chat_id, "no text")
    text = text.strip()
    link = _LINK.match(text)
    if link is not None:
        chat = message.get("chat") or {}
        private = isinstance(chat, Mapping) and chat.get("type") == "private"
        return Link(chat_id, link.group(1), _name(message), private)
    if chat_id != owner_chat:
        return Ignored(chat_id, "not the owner chat")
    command = _COMMAND.match(text)
    if command is None or command.group(1) not in COMMANDS:
        return Command(chat_id, "help", ())
    return Command(chat_id, command.group(1), tuple(command.group(2).split()))


def _callback(callback: Mapping[str, Any], owner_chat: str | None) -> Action:
    callback_id = callback.get("id")
    message = callback.get("message")
    if not isinstance(callback_id, str) or not isinstance(message, Mapping):
        return Ignored(None, "a button without its message")
    chat_id = _chat_id(message)
    if chat_id is None:
        return Ignored(None, "a button without its chat")
    data = callback.get("data")
    data = data if isinstance(data, str) else ""
    if chat_id != owner_chat:
        return Foreign(chat_id, callback_id, data[:64])
    parsed = parse_callback_data(data)
    if parsed is None:
        return Stale(chat_id, callback_id)
    message_id = message.get("message_id")
    text = message.get("text")
    return Decide(
        chat_id,
        callback_id,
        message_id if isinstance(message_id, int) else None,
        parsed[0],
        parsed[1],
        parsed[2],
        text if isinstance(text, str) else "",
    )


# -- what the bot writes ---------------------------------------------------------

HELP = (
    "Commands: /status, /pending, /killswitch on [reason], /sessions, /revoke <session id>.\n"
    "Approve or reject a waiting send with the buttons under its message. "
    "Turning the kill switch off is only possible from the CLI or the console."
)


def above_limit_note(tx_id: str, limit: str) -> str:
    return (
        f"\nAbove your chat approval limit ({limit}): a tap cannot approve it. "
        f"Approve it in the console or with: waiaas approve {tx_id} (Reject works here.)"
    )


def outcome_line(kind: Kind, actor: str, status: str, when: str) -> str:
    verb = "Approved" if kind == "approve" else "Rejected"
    return f"\n\n{verb} by {actor} at {when}: {status}."


def already_line(status: str) -> str:
    return f"\n\nAlready decided: {status}. Nothing was done."


def settled_line(status: str) -> str:
    return f"\n\nDecided elsewhere (console, CLI or expiry): {status}."
