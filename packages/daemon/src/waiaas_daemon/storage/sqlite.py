"""The SQLite storage (the embedded default): all SQL of one daemon, behind ``Storage``.

``SqliteStorage`` holds the SQL both databases share; ``PostgresStorage``
(storage/postgres.py) runs the same statements through a translating
connection and overrides what differs (connections, locks, a few dialect bits).

One writer connection (every write in a transaction under a lock, so
concurrent requests never interleave statements) and one reader connection
(WAL lets it read committed data while a write is under way). A write answers
with the row it wrote (``RETURNING *``), never by reading it back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from waiaas_daemon.chain.interface import AccountSnapshot
from waiaas_daemon.storage.cache import RowCache
from waiaas_daemon.storage.interface import (
    DuplicateKey,
    Hook,
    LimitReached,
    NameTaken,
    Sink,
    VersionConflict,
)
from waiaas_daemon.storage.migrations import migrate
from waiaas_daemon.storage.rows import (
    DAY_SECONDS,
    GATE,
    HOUR_SECONDS,
    MONTH_SECONDS,
    SETTLED,
    TRANSACTION_CHANGES,
    Event,
    KillSwitchRow,
    MasterLockoutRow,
    NewSession,
    NewTransaction,
    NewWallet,
    PolicyRow,
    SendInputs,
    SessionRow,
    TokenRow,
    TransactionRow,
    WalletRow,
    columns,
    lockout_row,
    session_row,
    token_row,
    transaction_row,
    wallet_row,
)

# Transaction types that spend from the wallet: they count toward its limits.
SPENDS = ("TRANSFER", "PAYMENT")


class SqliteStorage:
    """One daemon's database file: ``Storage`` on SQLite."""

    # Only this process writes the file (SPEC 11).
    shared = False
    # What the driver raises for a unique key already taken (insert_send).
    _duplicate: tuple[type[Exception], ...] = (sqlite3.IntegrityError,)

    def __init__(self, writer: Any, reader: Any) -> None:
        self._writer = writer
        self._reader = reader
        self._write_lock = anyio.Lock()
        self._wallets: RowCache[WalletRow] = RowCache()
        self._sessions: RowCache[SessionRow] = RowCache()
        self._wallet_locks: dict[str, anyio.Lock] = {}
        # eventlog.EventLog.write, set by DaemonState.open: audit entries and outbox rows.
        self.sink: Sink | None = None

    @property
    def reader(self) -> Any:
        """The read connection, for modules that keep their own SQL (audit, notify)."""
        return self._reader

    @asynccontextmanager
    async def wallet_lock(self, wallet_id: str) -> AsyncIterator[None]:
        """Sends of one wallet run one at a time, so limits and balances hold (one process)."""
        async with self._wallet_locks.setdefault(wallet_id, anyio.Lock()):
            yield

    @asynccontextmanager
    async def try_wallet_lock(self, wallet_id: str) -> AsyncIterator[bool]:
        lock = self._wallet_locks.setdefault(wallet_id, anyio.Lock())
        try:
            lock.acquire_nowait()
        except anyio.WouldBlock:
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    @asynccontextmanager
    async def exclusive(self, role: str) -> AsyncIterator[None]:
        """Only this process uses the file: the role is this daemon's at once."""
        yield

    async def holds(self, role: str) -> bool:
        return True

    async def _serialize_wallet(self, db: Any, wallet_id: str) -> None:
        """Inside a write: wait for other writers of this wallet (SQLite's writer is one)."""

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SqliteStorage]:
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
    async def transaction(self, *, after_commit: Hook | None = None) -> AsyncIterator[Any]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; ROLLBACK if the block raises.

        ``after_commit`` runs once the commit is durable, still under the write
        lock, so what it does (a token file) follows the commits' order.
        """
        async with self._write_lock:
            # Shielded: a request cancelled while BEGIN runs on the worker thread
            # would leave the transaction open, and every later BEGIN would fail.
            with anyio.CancelScope(shield=True):
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

    async def _statement(self, sql: str, params: Sequence[Any]) -> Any:
        """One write statement in a transaction of its own, its first row answered.

        SQLite commits a lone statement by itself (autocommit; durable at once with
        ``synchronous = FULL``): one trip to the writer's thread instead of three
        (BEGIN, the statement, COMMIT). Under the write lock, so it never joins
        another task's open transaction; shielded, so a cancelled caller never
        misses a change that was committed.
        """
        async with self._write_lock:
            with anyio.CancelScope(shield=True):
                return await first_row(self._writer, sql, params)

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

    async def insert_wallet(self, wallet: NewWallet, events: Sequence[Event] = ()) -> WalletRow:
        try:
            async with self.transaction() as db:
                [row] = await _insert(db, "wallets", columns(wallet))
                await self._emit(db, events)
        except self._duplicate:
            # Ids are random UUIDs and addresses fresh keys: the index taken is the live name's.
            raise NameTaken from None
        return wallet_row(row)

    async def rename_wallet(
        self, wallet_id: str, name: str, events: Sequence[Event] = ()
    ) -> WalletRow | None:
        """Give a wallet another name; None if there is no such wallet."""
        with self._wallets.changing(wallet_id):
            try:
                async with self.transaction() as db:
                    rows = list(
                        await db.execute_fetchall(
                            "UPDATE wallets SET name = ? WHERE id = ? RETURNING *",
                            (name, wallet_id),
                        )
                    )
                    if rows:
                        await self._emit(db, events)
            except self._duplicate:
                raise NameTaken from None
        return wallet_row(rows[0]) if rows else None

    async def get_wallet(self, wallet_id: str) -> WalletRow | None:
        async def read() -> WalletRow | None:
            row = await self._one("SELECT * FROM wallets WHERE id = ?", (wallet_id,))
            return None if row is None else wallet_row(row)

        return await self._wallets.get(wallet_id, read)

    async def list_wallets(self) -> list[WalletRow]:
        return [wallet_row(r) for r in await self._all("SELECT * FROM wallets ORDER BY seq")]

    async def terminate_wallet(
        self, wallet_id: str, now: int, events: Sequence[Event] = ()
    ) -> WalletRow | None:
        """Terminate the wallet and revoke its sessions; None if there is no such wallet."""
        with self._wallets.changing(wallet_id), self._sessions.changing():
            async with self.transaction() as db:
                waiting = await _waiting_sends_of(db, "wallet_id = ?", (wallet_id,))
                await _cancel_approved(db, waiting, now)
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
                if rows:
                    await self._emit(db, [*events, *_cancelled_by_revocation(waiting)])
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
        events: Sequence[Event] = (),
    ) -> SessionRow:
        """Count the wallet's active sessions and insert, in one transaction.

        With ``replace_label``, the wallet's active sessions of that label are
        revoked first, in the same transaction. ``before_commit`` runs after the
        insert, before the commit; ``after_commit`` as in ``transaction``.
        """
        # Revoking by label touches rows by wallet, not by id: forget them all.
        with self._sessions.changing(None if replace_label else session.id):
            async with self.transaction(after_commit=after_commit) as db:
                await self._serialize_wallet(db, session.wallet_id)
                waiting: list[sqlite3.Row] = []
                if replace_label is not None:
                    waiting = await _waiting_sends_of(
                        db, "wallet_id = ? AND label = ?", (session.wallet_id, replace_label)
                    )
                    await _cancel_approved(db, waiting, now)
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
                await self._emit(db, [*events, *_cancelled_by_revocation(waiting)])
                if before_commit is not None:
                    await before_commit()
        return session_row(row)

    async def get_session(self, session_id: str) -> SessionRow | None:
        async def read() -> SessionRow | None:
            row = await self._one("SELECT * FROM sessions WHERE id = ?", (session_id,))
            return None if row is None else session_row(row)

        return await self._sessions.get(session_id, read)

    async def refresh_session(self, session_id: str) -> SessionRow | None:
        """The session's row as the database has it now, past any row kept in memory."""
        self._sessions.invalidate(session_id)
        return await self.get_session(session_id)

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
        events: Sequence[Event] = (),
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
                if swapped:
                    await self._emit(db, events)
                if swapped and before_commit is not None:
                    await before_commit()
        return session_row(swapped[0]) if swapped else None

    async def revoke_session(
        self, session_id: str, now: int, events: Sequence[Event] = ()
    ) -> SessionRow | None:
        """Revoke (idempotent: a revoked session keeps its time); None if unknown."""
        with self._sessions.changing(session_id):
            async with self.transaction() as db:
                waiting = await _waiting_sends_of(db, "id = ?", (session_id,))
                await _cancel_approved(db, waiting, now)
                rows = list(
                    await db.execute_fetchall(
                        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? "
                        "RETURNING *",
                        (now, session_id),
                    )
                )
                if rows:
                    await self._emit(db, [*events, *_cancelled_by_revocation(waiting)])
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
        self, wallet_id: str, limit: int, before_seq: int | None, network: str | None = None
    ) -> list[TransactionRow]:
        where = "wallet_id = ? AND seq < ?" + (" AND network = ?" if network else "")
        params: tuple[Any, ...] = (wallet_id, before_seq if before_seq is not None else 2**63 - 1)
        rows = await self._all(
            f"SELECT * FROM transactions WHERE {where} ORDER BY seq DESC LIMIT ?",  # noqa: S608
            (*params, *((network,) if network else ()), limit),
        )
        return [transaction_row(r) for r in rows]

    async def held_sequences(self, wallet_id: str, network: str, floor: int) -> list[int]:
        rows = await self._all(
            "SELECT nonce FROM transactions WHERE wallet_id = ? AND network = ? "
            "AND nonce >= ? ORDER BY nonce",
            (wallet_id, network, floor),
        )
        return [int(r["nonce"]) for r in rows]

    async def unsettled_transactions(self) -> list[TransactionRow]:
        rows = await self._all(
            "SELECT * FROM transactions WHERE status IN ('PENDING', 'SUBMITTED') ORDER BY seq"
        )
        return [transaction_row(r) for r in rows]

    async def sent_since(self, wallet_id: str, since: int) -> int:
        """Lamports this wallet sent (or is sending) since ``since``; failures do not count."""
        # Amounts go up to 2^64-1 and are stored as text: summed exactly in Python.
        rows = await self._all(
            "SELECT amount FROM transactions WHERE wallet_id = ? "
            "AND type IN ('TRANSFER', 'PAYMENT') AND created_at > ? AND status != 'FAILED'",
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

    # -- the embedded evm-local chain ----------------------------------------

    async def load_evm_local(self) -> list[tuple[bytes, bytes]]:
        """py-evm's whole key-value store, as the last saved block left it."""
        rows = await self._all("SELECT key, value FROM evm_local_state")
        return [(bytes(r[0]), bytes(r[1])) for r in rows]

    async def save_evm_local(self, changes: Sequence[tuple[bytes, bytes | None]]) -> None:
        """The keys a block changed, in one transaction (``None`` deletes)."""
        puts = [(k, v) for k, v in changes if v is not None]
        deletes = [(k,) for k, v in changes if v is None]
        if not puts and not deletes:
            return
        async with self.transaction() as db:
            if deletes:
                await db.executemany("DELETE FROM evm_local_state WHERE key = ?", deletes)
            if puts:
                await db.executemany(
                    "INSERT INTO evm_local_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    puts,
                )

    # -- the token registry ---------------------------------------------------

    async def list_tokens(self, network: str) -> list[TokenRow]:
        rows = await self._all(
            "SELECT * FROM tokens WHERE network = ? ORDER BY builtin DESC, upper(symbol)",
            (network,),
        )
        return [token_row(r) for r in rows]

    async def get_token(self, network: str, mint: str) -> TokenRow | None:
        row = await self._one(
            "SELECT * FROM tokens WHERE network = ? AND mint = ?", (network, mint)
        )
        return None if row is None else token_row(row)

    async def find_token_by_symbol(self, network: str, symbol: str) -> TokenRow | None:
        row = await self._one(
            "SELECT * FROM tokens WHERE network = ? AND upper(symbol) = upper(?)",
            (network, symbol),
        )
        return None if row is None else token_row(row)

    async def insert_token(self, token: TokenRow, accounts: Sequence[AccountSnapshot] = ()) -> bool:
        """Add a registry entry (and the ledger accounts of its new mint) in one step.

        False, and nothing saved, when the network has that symbol or mint already.
        """
        row = {**token.__dict__, "builtin": int(token.builtin)}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        async with self.transaction() as db:
            inserted = await db.execute_fetchall(
                f"INSERT INTO tokens ({columns}) VALUES ({marks}) "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING mint",
                tuple(row.values()),
            )
            if not list(inserted):
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

    async def _emit(self, db: Any, events: Sequence[Event]) -> list[str]:
        """The audit log and the outbox write ``events`` here; the notification ids enqueued."""
        if events and self.sink is not None:
            return list(await self.sink(db, events))
        return []

    async def emit_on(self, db: Any, events: Sequence[Event]) -> list[str]:
        """For storage modules with their own SQL: their change's events, in its transaction."""
        return await self._emit(db, events)

    async def emit(self, events: Sequence[Event]) -> list[str]:
        """Events with no state change of their own (a master password failure, a test)."""
        if not events:
            return []
        async with self.transaction() as db:
            return await self._emit(db, events)

    def _wallet_changed(self, wallet_id: str) -> None:
        self._wallets.invalidate(wallet_id)

    async def get_policy(self, wallet_id: str) -> PolicyRow | None:
        row = await self._one("SELECT * FROM policies WHERE wallet_id = ?", (wallet_id,))
        return None if row is None else PolicyRow(**dict(row))

    async def put_policy(
        self,
        wallet_id: str,
        document: str,
        now: int,
        events: Sequence[Event] = (),
        *,
        expected_version: int | None = None,
    ) -> PolicyRow:
        """Replace the wallet's policy, one version up.

        With ``expected_version``, only if the stored version (0 when none) is that
        one, checked in the write's own transaction; else ``VersionConflict``.
        """
        # The check is the write's own WHERE (or its conflict clause), so two writers
        # from the same version never both succeed, in one daemon or several: on
        # PostgreSQL the loser's UPDATE waits for the winner's row lock and then
        # matches nothing, its INSERT waits on the key and then does nothing.
        params: tuple[Any, ...] = (wallet_id, document, now)
        if expected_version is None:
            sql = (
                "INSERT INTO policies (wallet_id, version, document, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT(wallet_id) DO UPDATE SET "
                "version = policies.version + 1, document = excluded.document, "
                "updated_at = excluded.updated_at RETURNING *"
            )
        elif expected_version == 0:
            sql = (
                "INSERT INTO policies (wallet_id, version, document, updated_at) "
                "VALUES (?, 1, ?, ?) ON CONFLICT(wallet_id) DO NOTHING RETURNING *"
            )
        else:
            sql = (
                "UPDATE policies SET version = version + 1, document = ?, updated_at = ? "
                "WHERE wallet_id = ? AND version = ? RETURNING *"
            )
            params = (document, now, wallet_id, expected_version)
        async with self.transaction() as db:
            rows = list(await db.execute_fetchall(sql, params))
            if not rows:
                found = list(
                    await db.execute_fetchall(
                        "SELECT version FROM policies WHERE wallet_id = ?", (wallet_id,)
                    )
                )
                raise VersionConflict(int(found[0][0]) if found else 0)
            row = rows[0]
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
        any_asset = "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED')"
        session_usd = (
            "transactions WHERE session_id = :s AND type IN ('TRANSFER', 'PAYMENT') "
            f"AND {any_asset}"
        )
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
            "(SELECT status_reason FROM wallets WHERE id = :w) AS wallet_reason, "
            "(SELECT revoked_at FROM sessions WHERE id = :s) AS revoked_at, "
            "(SELECT active FROM kill_switch WHERE id = 1) AS kill_switch, "
            "(SELECT document FROM policies WHERE wallet_id = :w) AS policy, "
            "(SELECT version FROM policies WHERE wallet_id = :w) AS version, "
            f"SUM(CASE WHEN {counted} AND created_at > :day THEN {high} END) AS day_high, "
            f"SUM(CASE WHEN {counted} AND created_at > :day THEN {low} END) AS day_low, "
            f"SUM(CASE WHEN {counted} THEN {high} END) AS month_high, "
            f"SUM(CASE WHEN {counted} THEN {low} END) AS month_low, "
            "COUNT(CASE WHEN created_at > :hour THEN 1 END) AS hour_count, "
            "MIN(CASE WHEN created_at > :hour THEN created_at END) AS hour_oldest, "
            f"SUM(CASE WHEN {any_asset} AND created_at > :day THEN usd_micros END) AS usd_day, "
            f"SUM(CASE WHEN {any_asset} THEN usd_micros END) AS usd_month, "
            f"(SELECT SUM(CASE WHEN created_at > :day THEN usd_micros END) FROM {session_usd}) "
            "AS session_usd_day, "
            f"(SELECT SUM(usd_micros) FROM {session_usd}) AS session_usd_total "
            "FROM transactions WHERE wallet_id = :w AND type IN ('TRANSFER', 'PAYMENT') "
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
            usd_daily=row["usd_day"] or 0,
            usd_monthly=row["usd_month"] or 0,
            session_usd_daily=row["session_usd_day"] or 0,
            session_usd_total=row["session_usd_total"] or 0,
            wallet_reason=row["wallet_reason"],
        )

    async def token_totals(self, wallet_id: str, now: int) -> dict[str, tuple[int, int]]:
        """Each token's counted transfers of the wallet, (24 h, 30 days), as send_inputs counts."""
        counted = "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED')"
        high = "CAST(substr(amount, 1, length(amount) - 9) AS INTEGER)"
        low = "CAST(substr(amount, -9) AS INTEGER)"
        # Named parameters: sqlite3 takes a mapping where _all's hint says Sequence.
        named: Any = {"w": wallet_id, "day": now - DAY_SECONDS, "month": now - MONTH_SECONDS}
        rows = await self._all(
            "SELECT token_mint, "  # noqa: S608 - fixed clauses
            f"SUM(CASE WHEN created_at > :day THEN {high} END) AS day_high, "
            f"SUM(CASE WHEN created_at > :day THEN {low} END) AS day_low, "
            f"SUM({high}) AS month_high, SUM({low}) AS month_low "
            "FROM transactions WHERE wallet_id = :w AND type IN ('TRANSFER', 'PAYMENT') "
            f"AND token_mint IS NOT NULL AND created_at > :month AND {counted} "
            "GROUP BY token_mint",
            named,
        )
        return {
            row["token_mint"]: (
                (row["day_high"] or 0) * 10**9 + (row["day_low"] or 0),
                (row["month_high"] or 0) * 10**9 + (row["month_low"] or 0),
            )
            for row in rows
        }

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
                found = await first_row(
                    db,
                    "SELECT COUNT(*) FROM denials WHERE wallet_id = ? AND at > ?",
                    (wallet_id, now - HOUR_SECONDS),
                )
                count = found[0] if found is not None else 0
                if count < threshold:
                    return None
                reason = f"auto: {count} denials within an hour"
                suspended_rows = await db.execute_fetchall(
                    "UPDATE wallets SET status = 'SUSPENDED', status_reason = ?, "
                    "status_changed_at = ? WHERE id = ? AND status = 'ACTIVE' RETURNING id",
                    (reason, now, wallet_id),
                )
                if not list(suspended_rows):
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
                row = await first_row(
                    db,
                    "UPDATE wallets SET status = ?, status_reason = ?, status_changed_at = ? "
                    "WHERE id = ? AND status = ? RETURNING *",
                    (to_status, reason, now, wallet_id, from_status),
                )
                if row is not None and to_status == "ACTIVE":
                    # A resume starts the count afresh: the denials that suspended the
                    # wallet must not let the next one suspend it again.
                    await db.execute("DELETE FROM denials WHERE wallet_id = ?", (wallet_id,))
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
        try:
            async with self.transaction() as db:
                row = await first_row(
                    db,
                    f"INSERT INTO transactions ({columns}) VALUES ({marks}) RETURNING *",  # noqa: S608
                    tuple(tx.values()),
                )
                assert row is not None
                await self._emit(db, events)
        except self._duplicate:
            # The one unique key a send's caller chooses: (wallet_id, idempotency_key).
            raise DuplicateKey from None
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
        sql = f"UPDATE transactions SET {assignments} WHERE {where} RETURNING *"  # noqa: S608
        if not accounts and not events:
            # The send path's gate: one statement, committed by itself.
            row = await self._statement(sql, params)
            return None if row is None else TransactionRow(**dict(row))
        async with self.transaction() as db:
            row = await first_row(db, sql, params)
            if row is not None:
                await _save_accounts(db, accounts)
                await self._emit(db, events)
        return None if row is None else TransactionRow(**dict(row))

    async def settle_transaction(
        self,
        tx_id: str,
        changes: dict[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> TransactionRow | None:
        """update_transaction, plus the outcome event when a transfer becomes CONFIRMED or FAILED.

        The event is written only by the change that moved the status, so a settle
        racing a refresh of the same transaction reports its outcome once. Answers
        the row it wrote; None when it wrote nothing (the status was that already).
        """
        assignments = ", ".join(f"{name} = ?" for name in changes)
        params: list[Any] = [*changes.values(), tx_id]
        where = "id = ?"
        if "status" in changes:
            where += " AND status IS NOT ?"
            params.append(changes["status"])
        async with self.transaction() as db:
            row = await first_row(
                db,
                f"UPDATE transactions SET {assignments} WHERE {where} RETURNING *",  # noqa: S608
                params,
            )
            await _save_accounts(db, accounts)
            if row is not None and row["type"] in SPENDS and row["status"] in SETTLED:
                details = {
                    "signature": row["signature"],
                    "error": row["error"],
                    "mint": row["token_mint"],
                    "network": row["network"],
                }
                if row["fee"] is not None:
                    details["fee"] = row["fee"]
                outcome = Event(
                    "daemon",
                    f"send_{row['status'].lower()}",
                    row["wallet_id"],
                    row["session_id"],
                    row["id"],
                    details,
                )
                await self._emit(db, [outcome])
        return None if row is None else TransactionRow(**dict(row))

    async def get_payment(self, wallet_id: str, idempotency_key: str) -> TransactionRow | None:
        row = await self._one(
            "SELECT * FROM transactions WHERE wallet_id = ? AND idempotency_key = ?",
            (wallet_id, idempotency_key),
        )
        return None if row is None else TransactionRow(**dict(row))

    async def held_payment(
        self, wallet_id: str, url: str, session_id: str
    ) -> TransactionRow | None:
        """The session's newest payment for ``url`` that waits for the owner or was approved."""
        row = await self._one(
            "SELECT * FROM transactions WHERE wallet_id = ? AND type = 'PAYMENT' "
            "AND payment_url = ? AND session_id = ? "
            "AND status IN ('QUEUED', 'PENDING_APPROVAL', 'APPROVED') "
            "ORDER BY seq DESC LIMIT 1",
            (wallet_id, url, session_id),
        )
        return None if row is None else TransactionRow(**dict(row))

    async def settle_payment_landed(
        self,
        signatures: Sequence[str],
        settlement: str,
        accounts: Sequence[AccountSnapshot],
        now: int,
    ) -> TransactionRow | None:
        """The local chain ran a transaction a facilitator sent: save its accounts and, if it
        carries a SUBMITTED payment's own signature, confirm that payment in the same step."""
        marks = ", ".join("?" for _ in signatures) or "NULL"
        async with self.transaction() as db:
            row = await first_row(
                db,
                "UPDATE transactions SET status = 'CONFIRMED', payment_settlement = ?, "  # noqa: S608
                "error = NULL, updated_at = ? WHERE type = 'PAYMENT' AND status IN "
                f"('PENDING', 'SUBMITTED', 'FAILED') AND signature IN ({marks}) RETURNING *",
                (settlement, now, *signatures),
            )
            await _save_accounts(db, accounts)
            if row is not None:
                details = {"signature": settlement, "error": None}
                event = Event(
                    "daemon",
                    "send_confirmed",
                    row["wallet_id"],
                    row["session_id"],
                    row["id"],
                    details,
                )
                await self._emit(db, [event])
        return None if row is None else TransactionRow(**dict(row))

    async def payment_signed_by(self, signatures: Sequence[str]) -> TransactionRow | None:
        """The payment whose own (the wallet's) signature is one of ``signatures``."""
        if not signatures:
            return None
        marks = ", ".join("?" for _ in signatures)
        row = await self._one(
            "SELECT * FROM transactions WHERE type = 'PAYMENT' "  # noqa: S608
            f"AND signature IN ({marks})",
            tuple(signatures),
        )
        return None if row is None else TransactionRow(**dict(row))

    async def waiting_transactions(self) -> list[TransactionRow]:
        """QUEUED and PENDING_APPROVAL sends of every wallet, oldest first."""
        rows = await self._all(
            "SELECT * FROM transactions WHERE status IN ('QUEUED', 'PENDING_APPROVAL') ORDER BY seq"
        )
        return [TransactionRow(**dict(r)) for r in rows]

    async def due_transactions(self, now: int) -> list[TransactionRow]:
        """QUEUED sends whose time came, PENDING_APPROVAL ones past their expiry and
        APPROVED payments the agent did not pay in time."""
        rows = await self._all(
            "SELECT * FROM transactions WHERE (status = 'QUEUED' AND execute_at <= ?) "
            "OR (status IN ('PENDING_APPROVAL', 'APPROVED') AND approval_expires_at <= ?) "
            "ORDER BY seq",
            (now, now),
        )
        return [TransactionRow(**dict(r)) for r in rows]

    async def next_due(self) -> int | None:
        """When the next waiting send runs or expires (an APPROVED payment too)."""
        row = await self._one(
            "SELECT MIN(CASE WHEN status = 'QUEUED' THEN execute_at "
            "ELSE approval_expires_at END) AS at FROM transactions "
            "WHERE status IN ('QUEUED', 'PENDING_APPROVAL', 'APPROVED')"
        )
        return None if row is None or row["at"] is None else int(row["at"])


async def _waiting_sends_of(
    db: Any, sessions_where: str, params: Sequence[Any]
) -> list[sqlite3.Row]:
    """Waiting sends of the live sessions about to be revoked (the trigger cancels the
    QUEUED and PENDING_APPROVAL ones, ``_cancel_approved`` the APPROVED payments)."""
    return list(
        await db.execute_fetchall(
            "SELECT id, wallet_id, session_id, status FROM transactions "  # noqa: S608
            "WHERE status IN ('QUEUED', 'PENDING_APPROVAL', 'APPROVED') AND session_id IN "
            f"(SELECT id FROM sessions WHERE revoked_at IS NULL AND {sessions_where})",
            params,
        )
    )


async def _cancel_approved(db: Any, waiting: Sequence[sqlite3.Row], now: int) -> None:
    """APPROVED payments of the sessions being revoked: nobody can pay them any more.

    Done here rather than in the revocation trigger, so no backend's trigger changes."""
    ids = [r["id"] for r in waiting if r["status"] == "APPROVED"]
    if not ids:
        return
    marks = ", ".join("?" for _ in ids)
    await db.execute(
        "UPDATE transactions SET status = 'CANCELLED', "  # noqa: S608 - fixed clauses
        "reason = 'the session was revoked', updated_at = ? "
        f"WHERE status = 'APPROVED' AND id IN ({marks})",
        (now, *ids),
    )


def _cancelled_by_revocation(rows: Sequence[sqlite3.Row]) -> list[Event]:
    # The audit log hears of every cancellation, the trigger's too (SPEC 13).
    return [
        Event(
            "owner",
            "send_cancelled",
            r["wallet_id"],
            r["session_id"],
            r["id"],
            {"reason": "the session was revoked"},
        )
        for r in rows
    ]


async def first_row(db: Any, sql: str, parameters: Any = ()) -> Any:
    """A statement's first row (or None) in one trip to the database thread.

    ``async with db.execute(...) as cursor: await cursor.fetchone()`` is three
    trips (execute, fetch, close); on the send path they added up (docs/benchmarks.md).
    """
    return next(iter(await db.execute_fetchall(sql, parameters)), None)


async def _insert(db: Any, table: str, values: dict[str, Any]) -> list[sqlite3.Row]:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) RETURNING *"  # noqa: S608 - fixed names
    return list(await db.execute_fetchall(sql, tuple(values.values())))


async def _save_accounts(db: Any, accounts: Sequence[AccountSnapshot]) -> None:
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


# The class's name before ``Storage`` had two implementations (tests, tools).
Database = SqliteStorage
__all__ = ["Database", "LimitReached", "SqliteStorage"]
