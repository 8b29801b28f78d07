"""All SQL of the daemon, behind one class, so a server database can replace SQLite.

One writer connection (every write in a transaction under a lock, so
concurrent requests never interleave statements) and one reader connection
(WAL lets it read committed data while a write is under way). A write answers
with the row it wrote (``RETURNING *``), never by reading it back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from waiaas_daemon.chain.base import AccountSnapshot
from waiaas_daemon.storage.cache import RowCache
from waiaas_daemon.storage.migrations import migrate
from waiaas_daemon.storage.rows import (
    TRANSACTION_CHANGES,
    MasterLockoutRow,
    NewSession,
    NewTransaction,
    NewWallet,
    SessionRow,
    TransactionRow,
    WalletRow,
    columns,
    lockout_row,
    session_row,
    transaction_row,
    wallet_row,
)

Hook = Callable[[], Awaitable[None]]


class LimitReached(Exception):
    """The wallet already has the maximum number of active sessions."""


class Database:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = anyio.Lock()
        self._wallets: RowCache[WalletRow] = RowCache()
        self._sessions: RowCache[SessionRow] = RowCache()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Database]:
        writer = await _connect(path)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await migrate(writer)
            reader = await _connect(path)
            try:
                yield cls(writer, reader)
            finally:
                await reader.close()
        finally:
            await writer.close()

    @asynccontextmanager
    async def transaction(
        self, *, after_commit: Hook | None = None
    ) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; ROLLBACK if the block raises.

        ``after_commit`` runs once the commit is durable, still under the write
        lock, so what it does (a token file) follows the commits' order.
        """
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._writer.execute("ROLLBACK")
                raise
            with anyio.CancelScope(shield=True):
                await self._writer.execute("COMMIT")
                if after_commit is not None:
                    await after_commit()

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._all(sql, params)
        return rows[0] if rows else None

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        # One job on the reader thread: execute, fetch everything, finalize. A
        # cursor left open between jobs would pin its WAL snapshot, and a read
        # that overlaps it on this shared connection would miss newer commits.
        return list(await self._reader.execute_fetchall(sql, params))

    # -- meta ---------------------------------------------------------------

    async def get_meta(self, key: str) -> bytes | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else bytes(row["value"])

    async def set_meta_once(self, key: str, value: bytes) -> bytes:
        """Store ``value`` unless the key exists; return what is stored."""
        async with self.transaction() as db:
            # The no-op upsert makes RETURNING answer the stored row either way.
            [row] = await db.execute_fetchall(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = meta.value RETURNING value",
                (key, value),
            )
        return bytes(row["value"])

    # -- the master password lockout ------------------------------------------

    async def get_master_lockout(self) -> MasterLockoutRow:
        return lockout_row(await self._one("SELECT * FROM master_lockout WHERE id = 1"))

    async def save_master_lockout(self, lockout: MasterLockoutRow) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO master_lockout (id, failures, locked_until) VALUES (1, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET failures = excluded.failures, "
                "locked_until = excluded.locked_until",
                (json.dumps(list(lockout.failures)), lockout.locked_until),
            )

    # -- wallets ------------------------------------------------------------

    async def insert_wallet(self, wallet: NewWallet) -> WalletRow:
        async with self.transaction() as db:
            [row] = await _insert(db, "wallets", columns(wallet))
        return wallet_row(row)

    async def get_wallet(self, wallet_id: str) -> WalletRow | None:
        async def read() -> WalletRow | None:
            row = await self._one("SELECT * FROM wallets WHERE id = ?", (wallet_id,))
            return None if row is None else wallet_row(row)

        return await self._wallets.get(wallet_id, read)

    async def list_wallets(self) -> list[WalletRow]:
        return [wallet_row(r) for r in await self._all("SELECT * FROM wallets ORDER BY seq")]

    async def terminate_wallet(self, wallet_id: str, now: int) -> WalletRow | None:
        """Terminate the wallet and revoke its sessions; None if there is no such wallet."""
        with self._wallets.changing(wallet_id), self._sessions.changing():
            async with self.transaction() as db:
                rows = list(
                    await db.execute_fetchall(
                        "UPDATE wallets SET status = 'TERMINATED' WHERE id = ? RETURNING *",
                        (wallet_id,),
                    )
                )
                await db.execute(
                    "UPDATE sessions SET revoked_at = ? WHERE wallet_id = ? AND revoked_at IS NULL",
                    (now, wallet_id),
                )
        return wallet_row(rows[0]) if rows else None

    async def count_wallets(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM wallets")
        return int(row["n"]) if row else 0

    # -- sessions -----------------------------------------------------------

    async def insert_session(
        self,
        session: NewSession,
        *,
        limit: int,
        now: int,
        replace_label: str | None,
        before_commit: Hook | None = None,
        after_commit: Hook | None = None,
    ) -> SessionRow:
        """Count the wallet's active sessions and insert, in one transaction.

        With ``replace_label``, the wallet's active sessions of that label are
        revoked first, in the same transaction. ``before_commit`` runs after the
        insert, before the commit; ``after_commit`` as in ``transaction``.
        """
        # Revoking by label touches rows by wallet, not by id: forget them all.
        with self._sessions.changing(None if replace_label else session.id):
            async with self.transaction(after_commit=after_commit) as db:
                if replace_label is not None:
                    await db.execute(
                        "UPDATE sessions SET revoked_at = ? WHERE wallet_id = ? AND label = ? "
                        "AND revoked_at IS NULL",
                        (now, session.wallet_id, replace_label),
                    )
                [counted] = await db.execute_fetchall(
                    "SELECT COUNT(*) AS n FROM sessions WHERE wallet_id = ? "
                    "AND revoked_at IS NULL AND expires_at > ?",
                    (session.wallet_id, now),
                )
                if counted["n"] >= limit:
                    raise LimitReached
                [row] = await _insert(db, "sessions", columns(session))
                if before_commit is not None:
                    await before_commit()
        return session_row(row)

    async def get_session(self, session_id: str) -> SessionRow | None:
        async def read() -> SessionRow | None:
            row = await self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
            return None if row is None else session_row(row)

        return await self._sessions.get(session_id, read)

    async def list_sessions(self, wallet_id: str | None) -> list[SessionRow]:
        if wallet_id is None:
            rows = await self._all("SELECT * FROM sessions ORDER BY created_at, id")
        else:
            rows = await self._all(
                "SELECT * FROM sessions WHERE wallet_id = ? ORDER BY created_at, id", (wallet_id,)
            )
        return [session_row(r) for r in rows]

    async def swap_session_token(
        self,
        session_id: str,
        old_hash: str,
        new_hash: str,
        *,
        expires_at: int,
        now: int,
        prev_valid_until: float,
        before_commit: Hook | None = None,
        after_commit: Hook | None = None,
    ) -> SessionRow | None:
        """Compare-and-swap the current token: the renewed row, or None if another won.

        ``before_commit`` runs after a successful swap, before it is committed;
        ``after_commit`` once it is committed (only after a successful swap).
        """
        swapped: list[sqlite3.Row] = []

        async def then() -> None:
            if swapped and after_commit is not None:
                await after_commit()

        with self._sessions.changing(session_id):
            async with self.transaction(after_commit=then) as db:
                swapped.extend(
                    await db.execute_fetchall(
                        "UPDATE sessions SET token_hash = ?, prev_token_hash = ?, "
                        "prev_valid_until = ?, expires_at = ?, renewal_count = renewal_count + 1, "
                        "last_renewed_at = ? "
                        "WHERE id = ? AND token_hash = ? AND revoked_at IS NULL RETURNING *",
                        (
                            new_hash,
                            old_hash,
                            prev_valid_until,
                            expires_at,
                            now,
                            session_id,
                            old_hash,
                        ),
                    )
                )
                if swapped and before_commit is not None:
                    await before_commit()
        return session_row(swapped[0]) if swapped else None

    async def revoke_session(self, session_id: str, now: int) -> SessionRow | None:
        """Revoke (idempotent: a revoked session keeps its time); None if unknown."""
        with self._sessions.changing(session_id):
            async with self.transaction() as db:
                rows = list(
                    await db.execute_fetchall(
                        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? "
                        "RETURNING *",
                        (now, session_id),
                    )
                )
        return session_row(rows[0]) if rows else None

    async def count_active_sessions(self, now: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > ?",
            (now,),
        )
        return int(row["n"]) if row else 0

    # -- transactions and the local ledger ----------------------------------

    async def insert_transaction(self, tx: NewTransaction | Mapping[str, Any]) -> TransactionRow:
        """Insert a transaction; a mapping is checked against ``NewTransaction``'s fields."""
        new = tx if isinstance(tx, NewTransaction) else NewTransaction(**tx)
        async with self.transaction() as db:
            [row] = await _insert(db, "transactions", columns(new))
        return transaction_row(row)

    async def update_transaction(
        self,
        tx_id: str,
        changes: Mapping[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> TransactionRow:
        """Update a transaction and save the ledger accounts it touched, in one step."""
        unknown = set(changes) - TRANSACTION_CHANGES
        if unknown or not changes:
            wrong = sorted(unknown) or "nothing"
            raise ValueError(f"not a changeable transaction column: {wrong}")
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self.transaction() as db:
            [row] = await db.execute_fetchall(
                f"UPDATE transactions SET {assignments} WHERE id = ? RETURNING *",  # noqa: S608
                (*changes.values(), tx_id),
            )
            await _save_accounts(db, accounts)
        return transaction_row(row)

    async def get_transaction(self, tx_id: str) -> TransactionRow | None:
        row = await self._one("SELECT * FROM transactions WHERE id = ?", (tx_id,))
        return None if row is None else transaction_row(row)

    async def list_transactions(
        self, wallet_id: str, limit: int, before_seq: int | None
    ) -> list[TransactionRow]:
        rows = await self._all(
            "SELECT * FROM transactions WHERE wallet_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (wallet_id, before_seq if before_seq is not None else 2**63 - 1, limit),
        )
        return [transaction_row(r) for r in rows]

    async def unsettled_transactions(self) -> list[TransactionRow]:
        rows = await self._all(
            "SELECT * FROM transactions WHERE status IN ('PENDING', 'SUBMITTED') ORDER BY seq"
        )
        return [transaction_row(r) for r in rows]

    async def sent_since(self, wallet_id: str, since: int) -> int:
        """Lamports this wallet sent (or is sending) since ``since``; failures do not count."""
        # Amounts go up to 2^64-1 and are stored as text: summed exactly in Python.
        rows = await self._all(
            "SELECT amount FROM transactions WHERE wallet_id = ? AND type = 'TRANSFER' "
            "AND created_at > ? AND status != 'FAILED'",
            (wallet_id, since),
        )
        return sum(int(r["amount"]) for r in rows)

    async def load_accounts(self) -> list[AccountSnapshot]:
        rows = await self._all("SELECT * FROM ledger_accounts ORDER BY address")
        return [
            AccountSnapshot(
                address=r["address"],
                lamports=r["lamports"],
                data=bytes(r["data"]),
                owner=r["owner"],
                executable=bool(r["executable"]),
                rent_epoch=r["rent_epoch"],
            )
            for r in rows
        ]

    async def integrity_check(self) -> str:
        row = await self._one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"


async def _insert(
    db: aiosqlite.Connection, table: str, values: dict[str, Any]
) -> list[sqlite3.Row]:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING *"  # noqa: S608 - fixed names
    return list(await db.execute_fetchall(sql, tuple(values.values())))


async def _save_accounts(db: aiosqlite.Connection, accounts: Sequence[AccountSnapshot]) -> None:
    if not accounts:
        return
    await db.executemany(
        "INSERT INTO ledger_accounts (address, lamports, data, owner, executable, rent_epoch) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(address) DO UPDATE SET "
        "lamports = excluded.lamports, data = excluded.data, owner = excluded.owner, "
        "executable = excluded.executable, rent_epoch = excluded.rent_epoch",
        [
            (a.address, a.lamports, a.data, a.owner, int(a.executable), a.rent_epoch)
            for a in accounts
        ],
    )


async def _connect(path: Path) -> aiosqlite.Connection:
    # isolation_level=None: we issue BEGIN/COMMIT ourselves.
    conn = await aiosqlite.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA busy_timeout = 5000")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = FULL")
    return conn
