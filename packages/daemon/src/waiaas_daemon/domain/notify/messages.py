"""What a notification says: one pure function per event type, text for a human owner.

Each message says what happened and what the owner can do about it (the CLI
command and, for sends waiting on the owner, the console link of SPEC 15).
The ``data`` of each event, as the code that raises it passes it:

- approval_required: transactionId, amount, to, approvalExpiresAt, [walletName, symbol, decimals]
- tx_queued: transactionId, amount, to, executeAt, [walletName, symbol, decimals]
- tx_notify: transactionId, amount, to, [walletName, symbol, decimals]
- tx_denied: amount, to, rule, [reason, transactionId, walletName]
- tx_failed: transactionId, error, [amount, to, walletName]
- wallet_suspended: reason, [walletName]
- kill_switch: active (bool), [reason]
- master_lockout: attempts, until
- session_created: sessionId, expiresAt, [label, walletName]
- test: nothing

Missing fields give a shorter message, never an error: a notification must
not fail because of the shape of its data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from waiaas_core.config import NOTIFICATION_EVENTS
from waiaas_core.networks import NETWORKS


@dataclass(frozen=True)
class Message:
    title: str
    text: str
    priority: str = "default"  # ntfy's words: min, low, default, high, urgent
    link: str | None = None


def format_amount(data: Mapping[str, Any]) -> str:
    """The native coin's base units (lamports, wei: by the event's ``network``) or a
    token's, as a decimal with its symbol."""
    raw = data.get("amount")
    native = NETWORKS.get(str(data.get("network") or "local")) or NETWORKS["local"]
    symbol = str(data.get("symbol") or native.native_symbol)
    decimals = data.get("decimals", native.native_decimals)
    try:
        units, places = int(str(raw)), int(decimals)
    except (TypeError, ValueError):
        return f"{raw} {symbol}" if raw is not None else f"an amount of {symbol}"
    whole, frac = divmod(units, 10**places) if places else (units, 0)
    text = f"{whole}.{frac:0{places}d}".rstrip("0").rstrip(".") if places else str(whole)
    return f"{text} {symbol}"


def format_time(value: Any) -> str:
    try:
        return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)


def _wallet(data: Mapping[str, Any], wallet_id: str | None) -> str:
    name = data.get("walletName")
    if name:
        return f"wallet {name!s}"
    return f"wallet {wallet_id}" if wallet_id else "a wallet"


def _approval_link(base_url: str, data: Mapping[str, Any]) -> str | None:
    tx = data.get("transactionId")
    return f"{base_url}/console/approvals/{tx}" if tx else None


def _approval_required(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    tx = data.get("transactionId", "?")
    link = _approval_link(base_url, data)
    text = (
        f"An agent of {wallet} asks to send {format_amount(data)} to {data.get('to', '?')}. "
        f"It waits for you until {format_time(data.get('approvalExpiresAt'))}, then expires.\n"
        f"Approve: waiaas approve {tx}\nReject: waiaas reject {tx}"
    )
    if link:
        text += f"\nOr open {link}"
    return Message("waiaas: approval required", text, "high", link)


def _tx_queued(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    tx = data.get("transactionId", "?")
    link = _approval_link(base_url, data)
    text = (
        f"An agent of {wallet} queued a send of {format_amount(data)} to {data.get('to', '?')}. "
        f"It goes out at {format_time(data.get('executeAt'))} unless you stop it.\n"
        f"Stop it: waiaas reject {tx}\nSend it now: waiaas approve {tx}"
    )
    if link:
        text += f"\nOr open {link}"
    return Message("waiaas: send queued", text, "high", link)


def _tx_notify(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    text = (
        f"An agent of {wallet} sent {format_amount(data)} to {data.get('to', '?')} "
        f"(transaction {data.get('transactionId', '?')}). Nothing to do if you expected it; "
        "otherwise turn the kill switch on: waiaas kill-switch on"
    )
    return Message("waiaas: send made", text)


def _tx_denied(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    reason = f" ({data['reason']})" if data.get("reason") else ""
    text = (
        f"A send of {format_amount(data)} from {wallet} to {data.get('to', '?')} was refused "
        f"by the rule {data.get('rule', '?')}{reason}. Nothing was sent. Repeated denials "
        "suspend the wallet; review it with: waiaas audit --action send.denied"
    )
    return Message("waiaas: send denied", text)


def _tx_failed(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    text = (
        f"Transaction {data.get('transactionId', '?')} of {wallet} failed: "
        f"{data.get('error', 'unknown error')}. No funds moved unless it shows a signature; "
        f"see what led to it: waiaas audit --wallet {data.get('walletId', '<id>')}"
    )
    return Message("waiaas: send failed", text, "high")


def _wallet_suspended(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    wallet_id = data.get("walletId", "<id>")
    text = (
        f"{wallet.capitalize()} is suspended: {data.get('reason', 'no reason given')}. "
        f"Its sends are refused until you resume it: waiaas wallet resume {wallet_id}"
    )
    return Message("waiaas: wallet suspended", text, "high")


def _kill_switch(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    if data.get("active", True):
        reason = f": {data['reason']}" if data.get("reason") else ""
        text = (
            f"The kill switch is on{reason}. Every send and session creation is refused; "
            "turn it off with: waiaas kill-switch off"
        )
        return Message("waiaas: kill switch on", text, "urgent")
    return Message("waiaas: kill switch off", "The kill switch is off; sends work again.")


def _master_lockout(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    text = (
        f"{data.get('attempts', 'Several')} wrong master passwords in a row: the master "
        f"password is locked until {format_time(data.get('until'))}. If that was not you, "
        "someone on this machine is guessing it."
    )
    return Message("waiaas: master password locked", text, "urgent")


def _session_created(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    label = f" ({data['label']})" if data.get("label") else ""
    session = data.get("sessionId", "?")
    text = (
        f"A session{label} for {wallet} was created, valid until "
        f"{format_time(data.get('expiresAt'))}. If you did not create it: "
        f"waiaas session revoke {session}"
    )
    return Message("waiaas: session created", text, "low")


def _test(data: Mapping[str, Any], wallet: str, base_url: str) -> Message:
    return Message("waiaas: test", "A test notification from waiaas: this channel works.")


_RENDER: dict[str, Callable[[Mapping[str, Any], str, str], Message]] = {
    "approval_required": _approval_required,
    "tx_queued": _tx_queued,
    "tx_notify": _tx_notify,
    "tx_denied": _tx_denied,
    "tx_failed": _tx_failed,
    "wallet_suspended": _wallet_suspended,
    "kill_switch": _kill_switch,
    "master_lockout": _master_lockout,
    "session_created": _session_created,
    "test": _test,
}
assert set(_RENDER) == set(NOTIFICATION_EVENTS)


def render(
    event_type: str, data: Mapping[str, Any], *, wallet_id: str | None, base_url: str
) -> Message:
    facts = {"walletId": wallet_id or "<id>", **data}
    return _RENDER[event_type](facts, _wallet(data, wallet_id), base_url.rstrip("/"))
