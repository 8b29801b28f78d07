"""One log line each time money moves or waits: a send or payment asked, held, decided, done.

The line is written where the audit entry is (``EventLog.write``), from the same
event, so the log and the audit log tell one story. It names the wallet, the
agent's label, the amount in its unit and the recipient or paid site; never a
token, key or password (the events carry none), and never the memo (agent text).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from waiaas_core.amounts import format_units

log = logging.getLogger("waiaas_daemon.money")

SOL_DECIMALS = 9

# event action -> what happened, in the words of the log line
_SAID = {
    "send_requested": "allowed ({tier}), sending",
    "send_queued": "held ({tier}) until it runs, unless the owner rejects it",
    "approval_required": "waits for the owner's approval ({tier})",
    "send_approved": "approved by {actor}",
    "send_rejected": "rejected by {actor}",
    "send_cancelled": "cancelled",
    "send_expired": "expired without a decision",
    "send_confirmed": "confirmed on chain",
    "send_failed": "failed",
    "send_denied": "denied",
}


@dataclass(frozen=True)
class Send:
    """What the record of the send says, read beside the event."""

    kind: str  # TRANSFER | PAYMENT
    amount: str
    to: str | None
    symbol: str | None
    decimals: int | None
    origin: str | None
    signature: str | None
    wallet_name: str | None
    label: str | None


def is_money(action: str) -> bool:
    return action in _SAID or action in ("kill_switch_on", "kill_switch_off")


def line(
    action: str,
    actor: str,
    details: Mapping[str, Any],
    send: Send | None,
    wallet_name: str | None,
    transaction_id: str | None,
) -> str | None:
    """The log line of one event, or None when the event moves no money."""
    if action == "kill_switch_on":
        reason = details.get("reason")
        return "kill switch ON: every send stops" + (f" ({reason})" if reason else "")
    if action == "kill_switch_off":
        return "kill switch off: sends may resume"
    said = _SAID.get(action)
    if said is None:
        return None
    kind = (
        "payment"
        if (send and send.kind == "PAYMENT") or details.get("kind") == "payment"
        else "send"
    )
    what = said.format(tier=details.get("tier") or "-", actor=actor)
    head = kind + (f" {transaction_id[:8]}" if transaction_id else "")
    wallet = (send.wallet_name if send else None) or wallet_name
    who = f"wallet {wallet}" if wallet else "wallet ?"
    if send and send.label:
        who += f", agent {send.label}"
    amount = _amount(details, send)
    target = _target(details, send)
    text = f"{head} ({who}): {amount}{target}: {what}"
    extra = details.get("error") or details.get("reason") or details.get("rule")
    if action in ("send_failed", "send_denied", "send_rejected") and extra:
        text += f": {extra}"
    if action == "send_confirmed" and send and send.signature:
        text += f", signature {send.signature}"
    return text


def _amount(details: Mapping[str, Any], send: Send | None) -> str:
    raw = send.amount if send else details.get("amount")
    if raw is None or not str(raw).isdigit():
        return "?"
    if send and send.decimals is not None:
        return f"{format_units(int(raw), send.decimals)} {send.symbol or 'tokens'}"
    if details.get("mint"):
        return f"{raw} base units of {details['mint']}"
    return f"{format_units(int(raw), SOL_DECIMALS)} SOL"


def _target(details: Mapping[str, Any], send: Send | None) -> str:
    if send and send.origin:
        return f" to {send.origin}"
    to = (send.to if send else None) or details.get("to")
    return f" to {to}" if to else ""


def write(text: str | None) -> None:
    if text is not None:
        log.info("%s", text)
