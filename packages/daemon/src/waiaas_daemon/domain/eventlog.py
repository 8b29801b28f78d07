"""What one storage ``Event`` becomes: an audit entry and, for some, an owner notification.

``Database._emit`` hands every event of a state change here, inside that
change's transaction, so the entry and the outbox row exist exactly when the
change does. The mapping from the send path's event names to the audit
vocabulary and the notification types is pure (``audit_action``,
``notification_of``); ``EventLog.write`` does the two inserts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from waiaas_daemon.domain import audit, moneylog

if TYPE_CHECKING:
    from waiaas_daemon.domain.notify import Notifier
    from waiaas_daemon.storage import Event
    from waiaas_daemon.storage.interface import Connection

# The send path's names (docs/notes/policy-and-approval.md) -> the audit log's vocabulary.
# Names already in the vocabulary (wallet.create, master.failure ...) pass as they are.
AUDIT_ACTIONS = {
    "policy_set": "policy.set",
    "policy_cleared": "policy.clear",
    "send_requested": "send.allowed",
    "send_queued": "send.queued",
    "approval_required": "send.pending",
    "send_denied": "send.denied",
    "wallet_resumed": "wallet.resume",
    "kill_switch_on": "kill_switch.on",
    "kill_switch_off": "kill_switch.off",
    "send_approved": "pending.approve",
    "send_executed": "send.submitted",
    "send_rejected": "pending.reject",
    "send_cancelled": "send.cancelled",
    "send_expired": "send.expired",
    "send_confirmed": "send.confirmed",
    "send_failed": "send.failed",
}

# Events of one send: a token send's entries name its mint (read from its record when
# the event does not already say it), so the log tells USDC from SOL without a join.
_SEND_EVENTS = frozenset(
    {name for name in AUDIT_ACTIONS if name.startswith("send_")} | {"approval_required"}
)

# Detail keys that are copied into a notification's data when present.
_NOTIFY_FIELDS = (
    "amount",
    "to",
    "approvalExpiresAt",
    "executeAt",
    "rule",
    "reason",
    "error",
    "code",
    "sessionId",
    "expiresAt",
    "label",
    "attempts",
    "until",
    "walletName",
)
_CAMEL = {"approval_expires_at": "approvalExpiresAt", "execute_at": "executeAt"}


def audit_action(event: Event) -> str:
    if event.action == "wallet_suspended":
        return "wallet.auto_suspend" if event.actor == "daemon" else "wallet.suspend"
    return AUDIT_ACTIONS.get(event.action, event.action)


def _data(event: Event) -> dict[str, Any]:
    details = {_CAMEL.get(k, k): v for k, v in (event.details or {}).items()}
    data = {k: details[k] for k in _NOTIFY_FIELDS if details.get(k) is not None}
    if event.transaction_id:
        data["transactionId"] = event.transaction_id
    return data


def notification_of(event: Event) -> tuple[str, dict[str, Any]] | None:
    """(type, data) of the owner notification this event raises, or None."""
    action, details = event.action, event.details or {}
    data = _data(event)
    if action == "approval_required":
        return "approval_required", data
    if action == "send_queued":
        return "tx_queued", data
    if action == "send_requested" and details.get("tier") == "NOTIFY":
        return "tx_notify", data
    if action == "send_denied":
        return "tx_denied", data
    if action == "send_failed":
        return "tx_failed", data
    if action == "wallet_suspended":
        return "wallet_suspended", data
    if action in ("kill_switch_on", "kill_switch_off"):
        return "kill_switch", {"active": action == "kill_switch_on", **data}
    if action == "master.lockout":
        return "master_lockout", data
    if action in ("session.create", "mcp_token.create"):
        return "session_created", {"sessionId": event.session_id, **data}
    if action == "notify.test":
        return "test", {}
    return None


def _audit_details(event: Event) -> Mapping[str, Any]:
    details = {k: v for k, v in (event.details or {}).items() if v is not None}
    if event.action == "policy_set":
        # The document names `tokens` and `allowedTokens` (mints, not credentials), which
        # the audit guard's key check refuses at any depth: kept as its canonical text.
        return {"policy": audit.canonical(details).decode()}
    return details


async def _with_mint(conn: Connection, event: Event) -> Event:
    """The event with ``mint`` in its details if it is about a token send's record.

    An event that has the key already (None for SOL: the hot path of a send and its
    settlement say it themselves) is taken as it is.
    """
    details = event.details or {}
    if event.action not in _SEND_EVENTS or event.transaction_id is None or "mint" in details:
        return event
    # On the writer's own connection, inside the change's transaction: the record
    # exists here even when the event comes with its insert.
    row = next(
        iter(
            await conn.execute_fetchall(
                "SELECT token_mint FROM transactions WHERE id = ?", (event.transaction_id,)
            )
        ),
        None,
    )
    if row is None or row[0] is None:
        return event
    return dataclasses.replace(event, details={**details, "mint": row[0]})


async def _money_line(conn: Connection, event: Event) -> str | None:
    """The daemon log's line for a money event, with the names read from its records.

    One statement (one trip to SQLite's thread), read before the audit entry is
    appended: on PostgreSQL the chain's head stays locked from the append to the
    commit, and nothing else should wait in between.
    """
    send = None
    wallet_name = None
    if event.transaction_id is not None:
        row = await _first(
            conn,
            "SELECT t.type, t.amount, t.to_address, t.token_symbol, t.token_decimals, "
            "t.payment_origin, t.signature, w.name, s.label FROM transactions t "
            "LEFT JOIN wallets w ON w.id = t.wallet_id "
            "LEFT JOIN sessions s ON s.id = t.session_id WHERE t.id = ?",
            (event.transaction_id,),
        )
        if row is not None:
            send = moneylog.Send(*tuple(row))
    if send is None and event.wallet_id is not None:
        found = await _first(conn, "SELECT name FROM wallets WHERE id = ?", (event.wallet_id,))
        wallet_name = found[0] if found else None
    return moneylog.line(
        event.action,
        event.actor,
        event.details or {},
        send,
        wallet_name,
        event.transaction_id,
    )


async def _first(conn: Connection, sql: str, params: Sequence[Any]) -> Any:
    return next(iter(await conn.execute_fetchall(sql, params)), None)


class EventLog:
    """Writes each event into the audit log and the outbox on the caller's connection."""

    def __init__(self, clock: Callable[[], float], notifier: Notifier | None = None) -> None:
        self._clock = clock
        self.notifier = notifier
        # Where this process's last append left the chain (audit.Head): used on SQLite,
        # whose file only this process writes; PostgreSQL's head is read under its lock.
        self._head: audit.Head | None = None

    async def write(self, conn: Connection, events: Sequence[Event]) -> list[str]:
        """Append every event; return the ids of the notifications enqueued."""
        now = self._clock()
        enqueued: list[str] = []
        shared = getattr(conn, "dialect", "sqlite") != "sqlite"
        for event in events:
            event = await _with_mint(conn, event)
            line = await _money_line(conn, event) if moneylog.is_money(event.action) else None
            entry = await audit.append(
                conn,
                at=now,
                actor=event.actor,
                action=audit_action(event),
                wallet_id=event.wallet_id,
                session_id=event.session_id,
                transaction_id=event.transaction_id,
                details=_audit_details(event),
                head=None if shared else self._head,
            )
            if not shared:
                self._head = audit.Head(entry["seq"], entry["hash"])
            if line is not None:
                moneylog.write(line)
            note = notification_of(event)
            if note is not None and self.notifier is not None:
                event_id = await self.notifier.enqueue(
                    conn, note[0], event.wallet_id, note[1], at=now
                )
                if event_id is not None:
                    enqueued.append(event_id)
        return enqueued
