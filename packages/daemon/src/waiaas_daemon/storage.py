"""All SQL of the daemon, behind one class, so a server database can replace SQLite.

One writer connection (every write in a transaction under a lock, so
concurrent requests never interleave statements) and one reader connection
(WAL lets it read committed data while a write is under way).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from waiaas_daemon.chain.base import AccountSnapshot

# Forward migrations; PRAGMA user_version is the index of the last one applied.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE wallets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        chain TEXT NOT NULL,
        network TEXT NOT NULL,
        address TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        key_ciphertext BLOB NOT NULL,
        key_nonce BLOB NOT NULL,
        key_salt BLOB NOT NULL,
        kdf TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        wallet_id TEXT NOT NULL REFERENCES wallets(id),
        label TEXT,
        token_hash TEXT NOT NULL,
        prev_token_hash TEXT,
        prev_valid_until REAL,
        ttl INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        renewal_count INTEGER NOT NULL DEFAULT 0,
        constraints TEXT,
        created_at INTEGER NOT NULL,
        last_renewed_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX sessions_by_wallet ON sessions(wallet_id, revoked_at, expires_at);
    CREATE TABLE transactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        wallet_id TEXT NOT NULL REFERENCES wallets(id),
        session_id TEXT,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        to_address TEXT,
        amount TEXT NOT NULL,
        memo TEXT,
        signature TEXT,
        raw BLOB,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX transactions_by_wallet ON transactions(wallet_id, seq);
    CREATE TABLE ledger_accounts (
        address TEXT PRIMARY KEY,
        lamports INTEGER NOT NULL,
        data BLOB NOT NULL,
        owner TEXT NOT NULL,
        executable INTEGER NOT NULL,
        rent_epoch INTEGER NOT NULL
    );
    """,
    # 2: the daily limit sums a wallet's recent transfers.
    """
    CREATE INDEX transactions_by_wallet_time ON transactions(wallet_id, type, created_at);
    """,
)


@dataclass(frozen=True)
class WalletRow:
    seq: int
    id: str
    name: str
    chain: str
    network: str
    address: str
    status: str
    created_at: int
    key_ciphertext: bytes
    key_nonce: bytes
    key_salt: bytes
    kdf: str


@dataclass(frozen=True)
class SessionRow:
    id: str
    wallet_id: str
    label: str | None
    token_hash: str
    prev_token_hash: str | None
    prev_valid_until: float | None
    ttl: int
    expires_at: int
    renewal_count: int
    constraints: dict[str, Any] | None
    created_at: int
    last_renewed_at: int | None
    revoked_at: int | None


@dataclass(frozen=True)
class TransactionRow:
    seq: int
    id: str
    wallet_id: str
    session_id: str | None
    type: str
    status: str
    to_address: str | None
    amount: str
    memo: str | None
    signature: str | None
    raw: bytes | None
    error: str | None
    created_at: int
    updated_at: int


CACHE_SIZE = 10_000


class SchemaTooNew(Exception):
    """The database was written by a newer daemon; this one must not touch it."""


class LimitReached(Exception):
    """The wallet already has the maximum number of active sessions."""


class Database:
    def __init__(self, writer: aiosqlite.Connection, reader: aiosqlite.Connection) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = anyio.Lock()
        # Wallet rows change only through this object, so they can be kept; a
        # read that overlapped a change (generation moved) is not kept.
        self._wallets: dict[str, WalletRow] = {}
        self._wallets_generation = 0
        # Session rows too: every sessionAuth request reads one, and this object
        # makes every change to them. Cleared before and after each change.
        self._sessions: dict[str, SessionRow] = {}
        self._sessions_generation = 0

    def _sessions_changed(self) -> None:
        self._sessions_generation += 1
        self._sessions.clear()

    @asynccontextmanager
    async def _changing_sessions(self) -> AsyncIterator[aiosqlite.Connection]:
        self._sessions_changed()
        try:
            async with self.transaction() as db:
                yield db
        finally:
            self._sessions_changed()

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[Database]:
        writer = await _connect(path)
        try:
            await writer.execute("PRAGMA journal_mode=WAL")
            await _migrate(writer)
            reader = await _connect(path)
            try:
                yield cls(writer, reader)
            finally:
                await reader.close()
        finally:
            await writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; ROLLBACK if the block raises."""
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
            await db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            async with db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
                row = await cursor.fetchone()
        return bytes(row["value"])

    # -- wallets ------------------------------------------------------------

    async def insert_wallet(self, wallet: dict[str, Any]) -> WalletRow:
        columns = ", ".join(wallet)
        marks = ", ".join("?" for _ in wallet)
        async with self.transaction() as db:
            await db.execute(
                f"INSERT INTO wallets ({columns}) VALUES ({marks})",  # noqa: S608 - fixed names
                tuple(wallet.values()),
            )
        found = await self.get_wallet(wallet["id"])
        assert found is not None
        return found

    async def get_wallet(self, wallet_id: str) -> WalletRow | None:
        cached = self._wallets.get(wallet_id)
        if cached is not None:
            return cached
        generation = self._wallets_generation
        row = await self._one("SELECT * FROM wallets WHERE id = ?", (wallet_id,))
        if row is None:
            return None
        wallet = WalletRow(**dict(row))
        if generation == self._wallets_generation:
            self._wallets[wallet_id] = wallet
        return wallet

    async def list_wallets(self) -> list[WalletRow]:
        return [WalletRow(**dict(r)) for r in await self._all("SELECT * FROM wallets ORDER BY seq")]

    async def terminate_wallet(self, wallet_id: str, now: int) -> None:
        self._wallets_generation += 1
        self._wallets.pop(wallet_id, None)
        async with self._changing_sessions() as db:
            await db.execute("UPDATE wallets SET status = 'TERMINATED' WHERE id = ?", (wallet_id,))
            await db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE wallet_id = ? AND revoked_at IS NULL",
                (now, wallet_id),
            )
        self._wallets_generation += 1
        self._wallets.pop(wallet_id, None)

    async def count_wallets(self) -> int:
        row = await self._one("SELECT COUNT(*) AS n FROM wallets")
        return int(row["n"]) if row else 0

    # -- sessions -----------------------------------------------------------

    async def insert_session(
        self, session: dict[str, Any], *, limit: int, now: int, replace_label: str | None
    ) -> None:
        """Count the wallet's active sessions and insert, in one transaction.

        With ``replace_label``, the wallet's active sessions of that label are
        revoked first, in the same transaction.
        """
        row = {**session, "constraints": _json_or_none(session.get("constraints"))}
        async with self._changing_sessions() as db:
            if replace_label is not None:
                await db.execute(
                    "UPDATE sessions SET revoked_at = ? WHERE wallet_id = ? AND label = ? "
                    "AND revoked_at IS NULL",
                    (now, row["wallet_id"], replace_label),
                )
            async with db.execute(
                "SELECT COUNT(*) AS n FROM sessions WHERE wallet_id = ? AND revoked_at IS NULL "
                "AND expires_at > ?",
                (row["wallet_id"], now),
            ) as cursor:
                active = (await cursor.fetchone())["n"]
            if active >= limit:
                raise LimitReached
            columns = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            await db.execute(
                f"INSERT INTO sessions ({columns}) VALUES ({marks})",  # noqa: S608 - fixed names
                tuple(row.values()),
            )

    async def get_session(self, session_id: str) -> SessionRow | None:
        cached = self._sessions.get(session_id)
        if cached is not None:
            return cached
        generation = self._sessions_generation
        row = await self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if row is None:
            return None
        session = _session(row)
        if generation == self._sessions_generation:
            if len(self._sessions) >= CACHE_SIZE:
                self._sessions.clear()
            self._sessions[session_id] = session
        return session

    async def list_sessions(self, wallet_id: str | None) -> list[SessionRow]:
        if wallet_id is None:
            rows = await self._all("SELECT * FROM sessions ORDER BY created_at, id")
        else:
            rows = await self._all(
                "SELECT * FROM sessions WHERE wallet_id = ? ORDER BY created_at, id", (wallet_id,)
            )
        return [_session(r) for r in rows]

    async def swap_session_token(
        self,
        session_id: str,
        old_hash: str,
        new_hash: str,
        *,
        expires_at: int,
        now: int,
        prev_valid_until: float,
        before_commit: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Compare-and-swap the current token; False if another renewal won.

        ``before_commit`` runs after a successful swap, before it is committed.
        """
        async with self._changing_sessions() as db:
            cursor = await db.execute(
                "UPDATE sessions SET token_hash = ?, prev_token_hash = ?, prev_valid_until = ?, "
                "expires_at = ?, renewal_count = renewal_count + 1, last_renewed_at = ? "
                "WHERE id = ? AND token_hash = ? AND revoked_at IS NULL",
                (new_hash, old_hash, prev_valid_until, expires_at, now, session_id, old_hash),
            )
            if cursor.rowcount != 1:
                return False
            if before_commit is not None:
                await before_commit()
            return True

    async def revoke_session(self, session_id: str, now: int) -> None:
        async with self._changing_sessions() as db:
            await db.execute(
                "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (now, session_id),
            )

    async def count_active_sessions(self, now: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > ?",
            (now,),
        )
        return int(row["n"]) if row else 0

    # -- transactions and the local ledger ----------------------------------

    async def insert_transaction(self, tx: dict[str, Any]) -> TransactionRow:
        columns = ", ".join(tx)
        marks = ", ".join("?" for _ in tx)
        async with self.transaction() as db:
            await db.execute(
                f"INSERT INTO transactions ({columns}) VALUES ({marks})",  # noqa: S608
                tuple(tx.values()),
            )
        found = await self.get_transaction(tx["id"])
        assert found is not None
        return found

    async def update_transaction(
        self,
        tx_id: str,
        changes: dict[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> None:
        """Update a transaction and save the ledger accounts it touched, in one step."""
        assignments = ", ".join(f"{name} = ?" for name in changes)
        async with self.transaction() as db:
            await db.execute(
                f"UPDATE transactions SET {assignments} WHERE id = ?",  # noqa: S608
                (*changes.values(), tx_id),
            )
            await _save_accounts(db, accounts)

    async def get_transaction(self, tx_id: str) -> TransactionRow | None:
        row = await self._one("SELECT * FROM transactions WHERE id = ?", (tx_id,))
        return None if row is None else TransactionRow(**dict(row))

    async def list_transactions(
        self, wallet_id: str, limit: int, before_seq: int | None
    ) -> list[TransactionRow]:
        rows = await self._all(
            "SELECT * FROM transactions WHERE wallet_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
            (wallet_id, before_seq if before_seq is not None else 2**63 - 1, limit),
        )
        return [TransactionRow(**dict(r)) for r in rows]

    async def unsettled_transactions(self) -> list[TransactionRow]:
        rows = await self._all(
            "SELECT * FROM transactions WHERE status IN ('PENDING', 'SUBMITTED') ORDER BY seq"
        )
        return [TransactionRow(**dict(r)) for r in rows]

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


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        version = (await cursor.fetchone())[0]
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"the database schema is version {version}, newer than this daemon knows "
            f"({len(MIGRATIONS)}); upgrade waiaas-daemon"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )


def _session(row: sqlite3.Row) -> SessionRow:
    data = dict(row)
    data["constraints"] = json.loads(data["constraints"]) if data["constraints"] else None
    return SessionRow(**data)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
