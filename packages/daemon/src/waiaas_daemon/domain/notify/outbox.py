"""The notification outbox: SQL and the pure retry rule, no network.

An event is written by ``enqueue`` on the caller's writer connection, inside
the caller's transaction: one ``notification_events`` row and one
``notification_deliveries`` row per configured channel, so a failing channel
is retried alone and a working one is not sent twice. The worker
(``worker.py``) reads due deliveries and records each outcome here; all state
is in these tables, so a restart resumes where the last run stopped
(at least once: a delivery cut by a crash is sent again).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waiaas_core.config import NOTIFICATION_EVENTS
from waiaas_daemon.domain.audit import check_details

if TYPE_CHECKING:  # storage imports these modules for its schema
    from waiaas_daemon.storage.interface import Connection

# The outbox's tables are a migration of the storage package.


PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
FIRST_DELAY = 1.0
MAX_DELAY = 600.0
GIVE_UP_AFTER = 86400.0
# Finished deliveries (and their events) are kept this long for GET /v1/admin/notifications.
KEEP_FINISHED = 30 * 86400.0
MAX_LIST = 200


@dataclass(frozen=True)
class Delivery:
    seq: int
    event_id: str
    channel: str
    attempts: int
    created_at: float
    type: str
    wallet_id: str | None
    at: int
    data: dict[str, Any]


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failures: 1, 2, 4 ... 600."""
    delay = min(FIRST_DELAY * 2 ** min(attempts - 1, 30), MAX_DELAY)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY))
    return delay


def after_failure(
    attempts: int, created_at: float, now: float, retry_after: float | None = None
) -> tuple[str, float]:
    """(status, next attempt time) once attempt number ``attempts`` has failed."""
    if now - created_at >= GIVE_UP_AFTER:
        return DEAD, now
    return PENDING, now + retry_delay(attempts, retry_after)


async def enqueue(
    conn: Connection,
    event_type: str,
    wallet_id: str | None,
    data: Mapping[str, Any],
    *,
    at: float,
    channels: Sequence[str],
    event_id: str | None = None,
) -> str | None:
    """Write one event for ``channels``; call inside the caller's transaction.

    Returns the event id, or None when no channel takes it (nothing written).
    """
    if event_type not in NOTIFICATION_EVENTS:
        raise ValueError(f"unknown notification event {event_type!r}")
    check_details(data, "data")
    if not channels:
        return None
    event_id = event_id or str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO notification_events (id, type, wallet_id, data, at) VALUES (?, ?, ?, ?, ?)",
        (event_id, event_type, wallet_id, json.dumps(dict(data), separators=(",", ":")), int(at)),
    )
    await conn.executemany(
        "INSERT INTO notification_deliveries (event_id, channel, status, next_attempt_at, "
        "created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?)",
        [(event_id, channel, at, at, at) for channel in channels],
    )
    return event_id


# How long a claimed delivery stays with its worker on a shared database: well
# above a delivery's own time limit (worker.DEFAULT_TIMEOUT + 1 s).
LEASE = 60.0


def _not_busy(column: str, busy: Sequence[int]) -> str:
    # "x NOT IN ()" is not SQL, and "x NOT IN (NULL)" is never true: no clause at all.
    return f"AND {column} NOT IN ({','.join('?' for _ in busy)})" if busy else ""


async def due(conn: Connection, now: float, busy: Sequence[int], limit: int) -> list[Delivery]:
    """Pending deliveries whose time has come, oldest first, except those in flight.

    On PostgreSQL (several daemons, one outbox) the rows are claimed: locked
    with SKIP LOCKED, so two workers never take the same row, and leased for
    ``LEASE`` seconds, so no other worker takes it while this one delivers;
    a worker that dies leaves it due again when the lease ends (at least once).
    """
    shared = getattr(conn, "dialect", "sqlite") == "postgresql"
    claim = " FOR UPDATE OF d SKIP LOCKED" if shared else ""
    rows = list(
        await conn.execute_fetchall(
            "SELECT d.seq, d.event_id, d.channel, d.attempts, d.created_at, e.type, "  # noqa: S608
            "e.wallet_id, e.at, e.data FROM notification_deliveries d JOIN notification_events e "
            "ON e.id = d.event_id WHERE d.status = 'pending' AND d.next_attempt_at <= ? "
            f"{_not_busy('d.seq', busy)} ORDER BY d.next_attempt_at, d.seq LIMIT ?{claim}",
            (now, *busy, limit),
        )
    )
    if shared and rows:
        await conn.executemany(
            "UPDATE notification_deliveries SET next_attempt_at = ? WHERE seq = ?",
            [(now + LEASE, r["seq"]) for r in rows],
        )
    return [Delivery(**{**dict(r), "data": json.loads(r["data"])}) for r in rows]


async def next_attempt_at(conn: Connection, busy: Sequence[int]) -> float | None:
    rows = list(
        await conn.execute_fetchall(
            "SELECT MIN(next_attempt_at) FROM notification_deliveries "  # noqa: S608
            f"WHERE status = 'pending' {_not_busy('seq', busy)}",
            tuple(busy),
        )
    )
    return rows[0][0]


async def record_success(conn: Connection, seq: int, now: float) -> None:
    await conn.execute(
        "UPDATE notification_deliveries SET status = 'delivered', attempts = attempts + 1, "
        "last_error = NULL, updated_at = ? WHERE seq = ?",
        (now, seq),
    )


async def record_failure(
    conn: Connection,
    delivery: Delivery,
    error: str,
    now: float,
    retry_after: float | None = None,
) -> str:
    status, next_at = after_failure(delivery.attempts + 1, delivery.created_at, now, retry_after)
    await conn.execute(
        "UPDATE notification_deliveries SET status = ?, attempts = attempts + 1, "
        "next_attempt_at = ?, last_error = ?, updated_at = ? WHERE seq = ?",
        (status, next_at, error, now, delivery.seq),
    )
    return status


async def prune(conn: Connection, now: float) -> None:
    await conn.execute(
        "DELETE FROM notification_deliveries WHERE status != 'pending' AND updated_at < ?",
        (now - KEEP_FINISHED,),
    )
    await conn.execute(
        "DELETE FROM notification_events WHERE id NOT IN "
        "(SELECT event_id FROM notification_deliveries)"
    )


async def list_deliveries(reader: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """Recent deliveries, newest first, for GET /v1/admin/notifications (no secrets in them)."""
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"limit must be 1..{MAX_LIST}")
    rows = await reader.execute_fetchall(
        "SELECT d.event_id, e.type, e.wallet_id, d.channel, d.status, d.attempts, "
        "d.last_error, d.created_at, d.updated_at, d.next_attempt_at "
        "FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id "
        "ORDER BY d.seq DESC LIMIT ?",
        (limit,),
    )
    return [
        {
            "eventId": r["event_id"],
            "type": r["type"],
            "walletId": r["wallet_id"],
            "channel": r["channel"],
            "status": r["status"],
            "attempts": r["attempts"],
            "lastError": r["last_error"],
            "createdAt": int(r["created_at"]),
            "updatedAt": int(r["updated_at"]),
            "nextAttemptAt": int(r["next_attempt_at"]) if r["status"] == PENDING else None,
        }
        for r in rows
    ]
