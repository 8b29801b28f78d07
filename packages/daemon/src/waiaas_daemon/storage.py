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

# SPEC 14: the token registry with its built-in entries, and the token a transfer moves.
TOKENS_SCHEMA = """
    CREATE TABLE tokens (
        network TEXT NOT NULL,
        mint TEXT NOT NULL,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        program TEXT,
        builtin INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        -- The mint authority of a local test mint, sealed like a wallet key.
        authority_ciphertext BLOB,
        authority_nonce BLOB,
        authority_salt BLOB,
        authority_kdf TEXT,
        PRIMARY KEY (network, mint)
    );
    CREATE UNIQUE INDEX tokens_by_symbol ON tokens(network, upper(symbol));
    INSERT INTO tokens (network, mint, symbol, decimals, program, builtin, created_at) VALUES
        ('mainnet', 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v', 'USDC', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0),
        ('mainnet', 'Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB', 'USDT', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0),
        ('devnet', '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU', 'USDC', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0);
    ALTER TABLE transactions ADD COLUMN token_mint TEXT;
    ALTER TABLE transactions ADD COLUMN token_symbol TEXT;
    ALTER TABLE transactions ADD COLUMN token_decimals INTEGER;
    ALTER TABLE transactions ADD COLUMN token_program TEXT;
"""

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
    # 3: wallet policy, owner decisions, kill switch and suspension (SPEC 12, 13).
    """
    ALTER TABLE wallets ADD COLUMN status_reason TEXT;
    ALTER TABLE wallets ADD COLUMN status_changed_at INTEGER;
    ALTER TABLE transactions ADD COLUMN tier TEXT;
    ALTER TABLE transactions ADD COLUMN execute_at INTEGER;
    ALTER TABLE transactions ADD COLUMN approval_expires_at INTEGER;
    ALTER TABLE transactions ADD COLUMN decided_at INTEGER;
    ALTER TABLE transactions ADD COLUMN reason TEXT;
    CREATE INDEX transactions_waiting ON transactions(status, execute_at, approval_expires_at)
        WHERE status IN ('QUEUED', 'PENDING_APPROVAL');
    CREATE TABLE policies (
        wallet_id TEXT PRIMARY KEY REFERENCES wallets(id),
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE denials (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        wallet_id TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX denials_by_wallet ON denials(wallet_id, at);
    CREATE TABLE kill_switch (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        active INTEGER NOT NULL,
        reason TEXT,
        since INTEGER
    );
    INSERT INTO kill_switch (id, active) VALUES (1, 0);
    -- A revoked session (revocation, termination, MCP replacement) cancels its
    -- waiting sends in the very transaction that revokes it.
    CREATE TRIGGER sessions_revoked_cancel_waiting AFTER UPDATE OF revoked_at ON sessions
    WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
    BEGIN
        UPDATE transactions
        SET status = 'CANCELLED', reason = 'the session was revoked',
            decided_at = NEW.revoked_at, updated_at = NEW.revoked_at
        WHERE session_id = NEW.id AND status IN ('QUEUED', 'PENDING_APPROVAL');
    END;
    """,
    TOKENS_SCHEMA,
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
    status_reason: str | None = None
    status_changed_at: int | None = None


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
    tier: str | None = None
    execute_at: int | None = None
    approval_expires_at: int | None = None
    decided_at: int | None = None
    reason: str | None = None
    token_mint: str | None = None
    token_symbol: str | None = None
    token_decimals: int | None = None
    token_program: str | None = None


@dataclass(frozen=True)
class TokenRow:
    """A registry entry; the ``authority_*`` fields only for a local test mint."""

    network: str
    mint: str
    symbol: str
    decimals: int
    program: str | None
    builtin: bool
    created_at: int
    authority_ciphertext: bytes | None = None
    authority_nonce: bytes | None = None
    authority_salt: bytes | None = None
    authority_kdf: str | None = None


# -- policy, pending, controls: row types ------------------------------------

DAY_SECONDS = 86400
HOUR_SECONDS = 3600
MONTH_SECONDS = 30 * DAY_SECONDS
SETTLED = ("CONFIRMED", "FAILED")
# The instant a send may still go out: kill switch off, wallet ACTIVE, session live.
GATE = (
    "(SELECT active FROM kill_switch WHERE id = 1) = 0 "
    "AND (SELECT status FROM wallets WHERE wallets.id = transactions.wallet_id) = 'ACTIVE' "
    "AND (transactions.session_id IS NULL OR (SELECT revoked_at FROM sessions "
    "WHERE sessions.id = transactions.session_id) IS NULL)"
)


@dataclass(frozen=True)
class Event:
    """Something the audit log and the notifications want to know, written with the change."""

    actor: str  # "owner" | "session:<id>" | "daemon"
    action: str
    wallet_id: str | None = None
    session_id: str | None = None
    transaction_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class PolicyRow:
    wallet_id: str
    version: int
    document: str
    updated_at: int


@dataclass(frozen=True)
class KillSwitchRow:
    active: bool
    reason: str | None
    since: int | None


@dataclass(frozen=True)
class SendInputs:
    wallet_status: str | None
    session_revoked: bool
    kill_switch: bool
    policy: str | None
    policy_version: int
    daily: int
    monthly: int
    sends_this_hour: int
    oldest_this_hour: int | None


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

    async def save_ledger_accounts(self, accounts: Sequence[AccountSnapshot]) -> None:
        """Local ledger accounts changed by something that has no transaction row."""
        async with self.transaction() as db:
            await _save_accounts(db, accounts)

    # -- the token registry ---------------------------------------------------

    async def list_tokens(self, network: str) -> list[TokenRow]:
        rows = await self._all(
            "SELECT * FROM tokens WHERE network = ? ORDER BY builtin DESC, upper(symbol)",
            (network,),
        )
        return [_token(r) for r in rows]

    async def get_token(self, network: str, mint: str) -> TokenRow | None:
        row = await self._one(
            "SELECT * FROM tokens WHERE network = ? AND mint = ?", (network, mint)
        )
        return None if row is None else _token(row)

    async def find_token_by_symbol(self, network: str, symbol: str) -> TokenRow | None:
        row = await self._one(
            "SELECT * FROM tokens WHERE network = ? AND upper(symbol) = upper(?)",
            (network, symbol),
        )
        return None if row is None else _token(row)

    async def insert_token(self, token: TokenRow, accounts: Sequence[AccountSnapshot] = ()) -> bool:
        """Add a registry entry (and the ledger accounts of its new mint) in one step.

        False, and nothing saved, when the network has that symbol or mint already.
        """
        row = {**token.__dict__, "builtin": int(token.builtin)}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        async with self.transaction() as db:
            cursor = await db.execute(
                f"INSERT OR IGNORE INTO tokens ({columns}) VALUES ({marks})",  # noqa: S608
                tuple(row.values()),
            )
            if cursor.rowcount != 1:
                return False
            await _save_accounts(db, accounts)
        return True

    async def integrity_check(self) -> str:
        row = await self._one("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"

    # -- policy, pending, controls -------------------------------------------
    # Wallet policy, owner decisions, kill switch and suspension (SPEC 12, 13).
    # Every write takes ``events``: what happened, handed to ``_emit`` inside
    # the same transaction, the one hook the audit log and the outbox fill in.

    async def _emit(self, db: aiosqlite.Connection, events: Sequence[Event]) -> None:
        """Hook: the audit log and the notification outbox write ``events`` here."""

    async def emit(self, events: Sequence[Event]) -> None:
        """Events with no state change of their own (a denied send)."""
        if events:
            async with self.transaction() as db:
                await self._emit(db, events)

    def _wallet_changed(self, wallet_id: str) -> None:
        self._wallets_generation += 1
        self._wallets.pop(wallet_id, None)

    async def get_policy(self, wallet_id: str) -> PolicyRow | None:
        row = await self._one("SELECT * FROM policies WHERE wallet_id = ?", (wallet_id,))
        return None if row is None else PolicyRow(**dict(row))

    async def put_policy(
        self, wallet_id: str, document: str, now: int, events: Sequence[Event] = ()
    ) -> PolicyRow:
        """Replace the wallet's policy, one version up."""
        async with self.transaction() as db:
            async with db.execute(
                "INSERT INTO policies (wallet_id, version, document, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT(wallet_id) DO UPDATE SET "
                "version = version + 1, document = excluded.document, "
                "updated_at = excluded.updated_at RETURNING *",
                (wallet_id, document, now),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await self._emit(db, events)
        return PolicyRow(**dict(row))

    async def send_inputs(
        self, wallet_id: str, session_id: str | None, now: int, *, mint: str | None = None
    ) -> SendInputs:
        """Everything a send decision reads, in one query on the reader.

        The 24 h and 30 day totals are of one asset: SOL (``mint`` None) or that
        mint; the sends in the hour are of every asset.
        """
        # Amounts reach 2^64-1 and are stored as text: summed exactly as the
        # part above 10^9 and the part below, each of which fits SQLite's int64.
        counted = (
            "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED') AND token_mint IS :t"
        )
        high = "CAST(substr(amount, 1, length(amount) - 9) AS INTEGER)"
        low = "CAST(substr(amount, -9) AS INTEGER)"
        day, hour = now - DAY_SECONDS, now - HOUR_SECONDS
        # Named parameters: sqlite3 takes a mapping where _one's hint says Sequence.
        params: Any = {
            "w": wallet_id,
            "s": session_id,
            "day": day,
            "hour": hour,
            "month": now - MONTH_SECONDS,
            "t": mint,
        }
        row = await self._one(
            "SELECT (SELECT status FROM wallets WHERE id = :w) AS wallet_status, "  # noqa: S608
            "(SELECT revoked_at FROM sessions WHERE id = :s) AS revoked_at, "
            "(SELECT active FROM kill_switch WHERE id = 1) AS kill_switch, "
            "(SELECT document FROM policies WHERE wallet_id = :w) AS policy, "
            "(SELECT version FROM policies WHERE wallet_id = :w) AS version, "
            f"SUM(CASE WHEN {counted} AND created_at > :day THEN {high} END) AS day_high, "
            f"SUM(CASE WHEN {counted} AND created_at > :day THEN {low} END) AS day_low, "
            f"SUM(CASE WHEN {counted} THEN {high} END) AS month_high, "
            f"SUM(CASE WHEN {counted} THEN {low} END) AS month_low, "
            "COUNT(CASE WHEN created_at > :hour THEN 1 END) AS hour_count, "
            "MIN(CASE WHEN created_at > :hour THEN created_at END) AS hour_oldest "
            "FROM transactions WHERE wallet_id = :w AND type = 'TRANSFER' "
            "AND created_at > :month",
            params,
        )
        assert row is not None
        return SendInputs(
            wallet_status=row["wallet_status"],
            session_revoked=row["revoked_at"] is not None,
            kill_switch=bool(row["kill_switch"]),
            policy=row["policy"],
            policy_version=row["version"] or 0,
            daily=(row["day_high"] or 0) * 10**9 + (row["day_low"] or 0),
            monthly=(row["month_high"] or 0) * 10**9 + (row["month_low"] or 0),
            sends_this_hour=row["hour_count"] or 0,
            oldest_this_hour=row["hour_oldest"],
        )

    async def record_denial(
        self, wallet_id: str, now: int, threshold: int, events: Sequence[Event] = ()
    ) -> int | None:
        """Count a denied send; at ``threshold`` within an hour, suspend the wallet.

        Returns the number of denials if this one suspended the wallet, else None.
        """
        self._wallet_changed(wallet_id)
        try:
            async with self.transaction() as db:
                await db.execute(
                    "INSERT INTO denials (wallet_id, at) VALUES (?, ?)", (wallet_id, now)
                )
                await db.execute("DELETE FROM denials WHERE at <= ?", (now - HOUR_SECONDS,))
                await self._emit(db, events)
                if threshold <= 0:
                    return None
                async with db.execute(
                    "SELECT COUNT(*) FROM denials WHERE wallet_id = ? AND at > ?",
                    (wallet_id, now - HOUR_SECONDS),
                ) as cursor:
                    found = await cursor.fetchone()
                count = found[0] if found is not None else 0
                if count < threshold:
                    return None
                reason = f"auto: {count} denials within an hour"
                cursor = await db.execute(
                    "UPDATE wallets SET status = 'SUSPENDED', status_reason = ?, "
                    "status_changed_at = ? WHERE id = ? AND status = 'ACTIVE'",
                    (reason, now, wallet_id),
                )
                if cursor.rowcount != 1:
                    return None
                suspended = Event(
                    "daemon", "wallet_suspended", wallet_id, details={"reason": reason}
                )
                await self._emit(db, [suspended])
                return count
        finally:
            self._wallet_changed(wallet_id)

    async def set_wallet_status(
        self,
        wallet_id: str,
        from_status: str,
        to_status: str,
        reason: str | None,
        now: int,
        events: Sequence[Event] = (),
    ) -> WalletRow | None:
        """Compare-and-swap a wallet's status (suspend, resume); None if it was not ``from``."""
        self._wallet_changed(wallet_id)
        try:
            async with self.transaction() as db:
                async with db.execute(
                    "UPDATE wallets SET status = ?, status_reason = ?, status_changed_at = ? "
                    "WHERE id = ? AND status = ? RETURNING *",
                    (to_status, reason, now, wallet_id, from_status),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    await self._emit(db, events)
        finally:
            self._wallet_changed(wallet_id)
        return None if row is None else WalletRow(**dict(row))

    async def get_kill_switch(self) -> KillSwitchRow:
        row = await self._one("SELECT active, reason, since FROM kill_switch WHERE id = 1")
        assert row is not None
        return KillSwitchRow(bool(row["active"]), row["reason"], row["since"])

    async def set_kill_switch(
        self, active: bool, reason: str | None, now: int, events: Sequence[Event] = ()
    ) -> KillSwitchRow:
        async with self.transaction() as db:
            await db.execute(
                "UPDATE kill_switch SET active = ?, reason = ?, since = ? WHERE id = 1",
                (int(active), reason, now),
            )
            await self._emit(db, events)
        return KillSwitchRow(active, reason, now)

    async def insert_send(self, tx: dict[str, Any], events: Sequence[Event] = ()) -> TransactionRow:
        columns = ", ".join(tx)
        marks = ", ".join("?" for _ in tx)
        async with self.transaction() as db:
            async with db.execute(
                f"INSERT INTO transactions ({columns}) VALUES ({marks}) RETURNING *",  # noqa: S608
                tuple(tx.values()),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            await self._emit(db, events)
        return TransactionRow(**dict(row))

    async def swap_transaction(
        self,
        tx_id: str,
        from_statuses: Sequence[str],
        changes: dict[str, Any],
        *,
        wallet_id: str | None = None,
        gate: bool = False,
        accounts: Sequence[AccountSnapshot] = (),
        events: Sequence[Event] = (),
    ) -> TransactionRow | None:
        """Compare-and-swap a transaction's status; None if it was not in ``from_statuses``.

        With ``gate``, the swap also needs the kill switch off, the wallet ACTIVE
        and the session unrevoked at that instant: one statement on the single
        writer, so a revocation that committed first always stops it.
        """
        assignments = ", ".join(f"{name} = ?" for name in changes)
        marks = ", ".join("?" for _ in from_statuses)
        conditions = [f"id = ? AND status IN ({marks})"]
        params: list[Any] = [*changes.values(), tx_id, *from_statuses]
        if wallet_id is not None:
            conditions.append("wallet_id = ?")
            params.append(wallet_id)
        if gate:
            conditions.append(GATE)
        where = " AND ".join(conditions)
        async with self.transaction() as db:
            async with db.execute(
                f"UPDATE transactions SET {assignments} WHERE {where} RETURNING *",  # noqa: S608
                params,
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                await _save_accounts(db, accounts)
                await self._emit(db, events)
        return None if row is None else TransactionRow(**dict(row))

    async def settle_transaction(
        self,
        tx_id: str,
        changes: dict[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> None:
        """update_transaction, plus the outcome event when a transfer becomes CONFIRMED or FAILED.

        The event is written only by the change that moved the status, so a settle
        racing a refresh of the same transaction reports its outcome once.
        """
        assignments = ", ".join(f"{name} = ?" for name in changes)
        params: list[Any] = [*changes.values(), tx_id]
        where = "id = ?"
        if "status" in changes:
            where += " AND status IS NOT ?"
            params.append(changes["status"])
        async with self.transaction() as db:
            async with db.execute(
                f"UPDATE transactions SET {assignments} WHERE {where} RETURNING *",  # noqa: S608
                params,
            ) as cursor:
                row = await cursor.fetchone()
            await _save_accounts(db, accounts)
            if row is not None and row["type"] == "TRANSFER" and row["status"] in SETTLED:
                details = {"signature": row["signature"], "error": row["error"]}
                outcome = Event(
                    "daemon",
                    f"send_{row['status'].lower()}",
                    row["wallet_id"],
                    row["session_id"],
                    row["id"],
                    details,
                )
                await self._emit(db, [outcome])

    async def waiting_transactions(self) -> list[TransactionRow]:
        """QUEUED and PENDING_APPROVAL sends of every wallet, oldest first."""
        rows = await self._all(
            "SELECT * FROM transactions WHERE status IN ('QUEUED', 'PENDING_APPROVAL') ORDER BY seq"
        )
        return [TransactionRow(**dict(r)) for r in rows]

    async def due_transactions(self, now: int) -> list[TransactionRow]:
        """QUEUED sends whose time came and PENDING_APPROVAL ones past their expiry."""
        rows = await self._all(
            "SELECT * FROM transactions WHERE (status = 'QUEUED' AND execute_at <= ?) "
            "OR (status = 'PENDING_APPROVAL' AND approval_expires_at <= ?) ORDER BY seq",
            (now, now),
        )
        return [TransactionRow(**dict(r)) for r in rows]

    async def next_due(self) -> int | None:
        """When the next waiting send runs or expires."""
        row = await self._one(
            "SELECT MIN(CASE WHEN status = 'QUEUED' THEN execute_at "
            "ELSE approval_expires_at END) AS at FROM transactions "
            "WHERE status IN ('QUEUED', 'PENDING_APPROVAL')"
        )
        return None if row is None or row["at"] is None else int(row["at"])


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


def _token(row: sqlite3.Row) -> TokenRow:
    data = dict(row)
    data["builtin"] = bool(data["builtin"])
    for name in ("authority_ciphertext", "authority_nonce", "authority_salt"):
        if data[name] is not None:
            data[name] = bytes(data[name])
    return TokenRow(**data)


def _session(row: sqlite3.Row) -> SessionRow:
    data = dict(row)
    data["constraints"] = json.loads(data["constraints"]) if data["constraints"] else None
    return SessionRow(**data)


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
