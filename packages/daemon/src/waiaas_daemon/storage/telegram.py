"""The Telegram bot's tables: the owner chat, link codes, approval prompts, the update offset.

Functions over ``Database`` (its writer transaction and its reader), like the
audit log and the outbox keep their own SQL; portable to PostgreSQL (no
``rowcount``: ``RETURNING``; no two-argument ``MAX``). Codes and nonces arrive here
already hashed: nothing stored can be replayed as a button or a link code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waiaas_daemon.storage.interface import Connection
    from waiaas_daemon.storage.interface import Storage as Database
    from waiaas_daemon.storage.rows import Event


@dataclass(frozen=True)
class OwnerChat:
    chat_id: str
    name: str | None
    linked_at: int


@dataclass(frozen=True)
class Prompt:
    nonce_hash: str
    event_id: str | None
    transaction_id: str
    chat_id: str
    message_id: int | None
    text: str | None
    created_at: int
    used_at: int | None
    closed_at: int | None


async def owner_chat(db: Database) -> OwnerChat | None:
    rows = list(await db.reader.execute_fetchall("SELECT * FROM telegram_owner WHERE id = 1"))
    if not rows:
        return None
    return OwnerChat(rows[0]["chat_id"], rows[0]["name"], rows[0]["linked_at"])


async def linked_on(conn: Connection) -> bool:
    """Inside a write's transaction: is an owner chat linked now (by any daemon's bot)?"""
    rows = list(await conn.execute_fetchall("SELECT 1 FROM telegram_owner WHERE id = 1"))
    return bool(rows)


async def new_link_code(db: Database, code_hash: str, now: int, expires_at: int) -> None:
    """A fresh code replaces every earlier one: only the last code shown works."""
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM telegram_link_codes")
        await conn.execute(
            "INSERT INTO telegram_link_codes (code_hash, created_at, expires_at) VALUES (?, ?, ?)",
            (code_hash, now, expires_at),
        )


async def link_pending(db: Database, now: int) -> int | None:
    """When the current link code expires, or None when there is none."""
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT MAX(expires_at) FROM telegram_link_codes WHERE expires_at > ?", (now,)
        )
    )
    return rows[0][0] if rows and rows[0][0] is not None else None


async def use_link_code(
    db: Database, code_hash: str, chat_id: str, name: str | None, now: int, events: Sequence[Event]
) -> bool:
    """Bind ``chat_id`` if the code is live; the code is spent in the same transaction."""
    async with db.transaction() as conn:
        spent = await conn.execute_fetchall(
            "DELETE FROM telegram_link_codes WHERE code_hash = ? AND expires_at > ? "
            "RETURNING code_hash",
            (code_hash, now),
        )
        if len(list(spent)) != 1:
            return False
        await conn.execute(
            "INSERT INTO telegram_owner (id, chat_id, name, linked_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET chat_id = excluded.chat_id, name = excluded.name, "
            "linked_at = excluded.linked_at",
            (chat_id, name, now),
        )
        await db.emit_on(conn, events)
    return True


async def unlink(db: Database, events: Sequence[Event]) -> bool:
    async with db.transaction() as conn:
        gone = await conn.execute_fetchall("DELETE FROM telegram_owner WHERE id = 1 RETURNING id")
        await conn.execute("DELETE FROM telegram_link_codes")
        unlinked = len(list(gone)) == 1
        if unlinked:
            await db.emit_on(conn, events)
    return unlinked


async def add_prompt(
    db: Database,
    nonce_hash: str,
    event_id: str | None,
    tx_id: str,
    chat_id: str,
    text: str,
    now: int,
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO telegram_prompts (nonce_hash, event_id, transaction_id, chat_id, "
            "text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (nonce_hash, event_id, tx_id, chat_id, text, now),
        )


async def prompt_sent(db: Database, nonce_hash: str, message_id: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE telegram_prompts SET message_id = ? WHERE nonce_hash = ?",
            (message_id, nonce_hash),
        )


async def get_prompt(db: Database, nonce_hash: str) -> Prompt | None:
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT * FROM telegram_prompts WHERE nonce_hash = ?", (nonce_hash,)
        )
    )
    return Prompt(**dict(rows[0])) if rows else None


async def settled_prompts(db: Database, limit: int = 20) -> list[tuple[Prompt, str]]:
    """Messages still showing buttons for a send decided elsewhere (console, CLI, expiry)."""
    rows = await db.reader.execute_fetchall(
        "SELECT p.*, t.status AS tx_status FROM telegram_prompts p "
        "JOIN transactions t ON t.id = p.transaction_id "
        "WHERE p.message_id IS NOT NULL AND p.closed_at IS NULL "
        "AND t.status NOT IN ('QUEUED', 'PENDING_APPROVAL') ORDER BY p.created_at LIMIT ?",
        (limit,),
    )
    found = []
    for row in rows:
        fields = dict(row)
        status = fields.pop("tx_status")
        found.append((Prompt(**fields), status))
    return found


async def close_prompt(db: Database, nonce_hash: str, now: int, *, used: bool = False) -> None:
    """Its buttons are gone from the chat; ``used``: because this very message decided."""
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE telegram_prompts SET closed_at = ?, used_at = COALESCE(?, used_at) "
            "WHERE nonce_hash = ?",
            (now, now if used else None, nonce_hash),
        )


async def prune_prompts(db: Database, before: int) -> None:
    """Closed prompts older than ``before`` have nothing left to check."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM telegram_prompts WHERE closed_at IS NOT NULL AND closed_at < ?",
            (before,),
        )


async def offset(db: Database) -> int:
    rows = list(
        await db.reader.execute_fetchall("SELECT update_offset FROM telegram_state WHERE id = 1")
    )
    return int(rows[0][0])


async def save_offset(db: Database, value: int) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            # Never backwards (CASE, not SQLite's two-argument MAX: both databases).
            "UPDATE telegram_state SET update_offset = "
            "CASE WHEN update_offset < ? THEN ? ELSE update_offset END WHERE id = 1",
            (value, value),
        )


async def count_ignored(db: Database) -> None:
    async with db.transaction() as conn:
        await conn.execute("UPDATE telegram_state SET ignored = ignored + 1 WHERE id = 1")


async def ignored(db: Database) -> int:
    rows = list(await db.reader.execute_fetchall("SELECT ignored FROM telegram_state WHERE id = 1"))
    return int(rows[0][0])
