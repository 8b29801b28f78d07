"""The storage interface: every operation the domain asks of a database.

Two implementations: ``SqliteStorage`` (storage/sqlite.py, the embedded
default, one daemon) and ``PostgresStorage`` (storage/postgres.py, a shared
server database several daemons use at once). The domain (sessions,
transactions, pending, policy, tokens, ...) depends on ``Storage`` only.

Each guarantee below holds on both: on SQLite because one process writes
through one connection under one lock; on PostgreSQL with row locks,
advisory locks and compare-and-swap statements, so it holds across daemons.

- ``swap_session_token``: one renewal of a token wins (compare-and-swap).
- ``insert_session``: a wallet never has more than ``limit`` active sessions.
- ``swap_transaction``: one owner decision (or one claim of a queued send) wins.
- ``wallet_lock``: one send of a wallet at a time, so limits are never exceeded.
- ``transaction`` + ``sink``: audit entries form one hash chain, and outbox rows
  commit with the change that caused them.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from waiaas_daemon.chain.interface import AccountSnapshot
from waiaas_daemon.storage.rows import (
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
)

Hook = Callable[[], Awaitable[None]]


class StorageUnavailable(Exception):
    """The database cannot be reached or refused us (no URL or password in the message)."""


# SQLite's words for a file it cannot use now (another process holds it, the disk fails).
_SQLITE_UNAVAILABLE = ("locked", "busy", "disk i/o", "unable to open", "disk is full")


def unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database gone or busy for now (retry later), not a defect of ours?

    PostgreSQL: a connection refused, cut or restarting (asyncpg's connection and
    operator-intervention errors, a connection it closed); SQLite: a locked file
    or a failing disk. asyncpg is looked at only where it is loaded already.
    """
    if isinstance(exc, StorageUnavailable):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(words in text for words in _SQLITE_UNAVAILABLE)
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is None:
        return False
    return isinstance(
        exc,
        (
            asyncpg.PostgresConnectionError,
            asyncpg.exceptions.OperatorInterventionError,
            asyncpg.exceptions.InsufficientResourcesError,
            asyncpg.InterfaceError,
            # a connection the server dropped under a statement (postgres._acquire)
            asyncpg.InternalClientError,
        ),
    )


class LimitReached(Exception):
    """The wallet already has the maximum number of active sessions."""


class DuplicateKey(Exception):
    """An insert met a unique key already taken (a payment's idempotency key), in any daemon."""


class NameTaken(Exception):
    """Another live (not terminated) wallet already has this name, in any daemon."""


class VersionConflict(Exception):
    """A conditional write found another version than the one it was made from."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the stored version is {current}")
        self.current = current


class Connection(Protocol):
    """One connection inside a transaction, for the modules that keep their own SQL
    (audit, outbox). SQL uses ``?`` placeholders; rows answer ``r["name"]`` and ``r[0]``.
    """

    dialect: str  # "sqlite" or "postgresql"

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    async def execute_fetchall(
        self, sql: str, parameters: Sequence[Any] = ..., /
    ) -> Iterable[Any]: ...

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


def dialect_of(conn: Any) -> str:
    """``"postgresql"`` for a PostgreSQL connection, else ``"sqlite"`` (aiosqlite has no tag)."""
    return str(getattr(conn, "dialect", "sqlite"))


def for_update(conn: Any) -> str:
    """`` FOR UPDATE`` on PostgreSQL (a row lock until commit); SQLite's writer is one already."""
    return " FOR UPDATE" if dialect_of(conn) == "postgresql" else ""


Sink = Callable[[Any, Sequence[Event]], Awaitable[Any]]


class Storage(Protocol):
    """What the daemon stores, whatever the database."""

    # eventlog.EventLog.write, set by DaemonState.open: audit entries and outbox rows.
    sink: Sink | None
    # True when other daemons may share this database (PostgreSQL).
    shared: bool

    @property
    def reader(self) -> Connection:
        """A read connection, for modules that keep their own SQL (audit, notify)."""
        ...

    def transaction(
        self, *, after_commit: Hook | None = None
    ) -> AbstractAsyncContextManager[Connection]: ...

    def wallet_lock(self, wallet_id: str) -> AbstractAsyncContextManager[None]:
        """Sends of one wallet run one at a time (across daemons on a shared database)."""
        ...

    def exclusive(self, role: str) -> AbstractAsyncContextManager[None]:
        """Wait until this daemon alone plays ``role`` (the Telegram poller); held for the block.

        One daemon per SQLite file: at once. On a shared database one daemon at a
        time; the others wait and take over when it ends or dies.
        """
        ...

    async def holds(self, role: str) -> bool:
        """Inside ``exclusive(role)``: is the role still this daemon's (its lock not lost)?"""
        ...

    def try_wallet_lock(self, wallet_id: str) -> AbstractAsyncContextManager[bool]:
        """The wallet's lock if free now (True inside), else False at once."""
        ...

    async def get_meta(self, key: str) -> bytes | None: ...
    async def set_meta_once(self, key: str, value: bytes) -> bytes: ...
    async def get_master_lockout(self) -> MasterLockoutRow: ...
    async def save_master_lockout(self, lockout: MasterLockoutRow) -> None: ...

    # wallets
    async def insert_wallet(self, wallet: NewWallet, events: Sequence[Event] = ()) -> WalletRow: ...
    async def get_wallet(self, wallet_id: str) -> WalletRow | None: ...
    async def list_wallets(self) -> list[WalletRow]: ...
    async def terminate_wallet(
        self, wallet_id: str, now: int, events: Sequence[Event] = ()
    ) -> WalletRow | None: ...
    async def rename_wallet(
        self, wallet_id: str, name: str, events: Sequence[Event] = ()
    ) -> WalletRow | None: ...
    async def count_wallets(self) -> int: ...
    async def set_wallet_status(
        self,
        wallet_id: str,
        from_status: str,
        to_status: str,
        reason: str | None,
        now: int,
        events: Sequence[Event] = (),
    ) -> WalletRow | None: ...

    # sessions
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
    ) -> SessionRow: ...
    async def get_session(self, session_id: str) -> SessionRow | None: ...

    async def refresh_session(self, session_id: str) -> SessionRow | None:
        """The row as the database has it now (a renewal through another daemon)."""
        ...

    async def list_sessions(self, wallet_id: str | None) -> list[SessionRow]: ...
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
    ) -> SessionRow | None: ...
    async def revoke_session(
        self, session_id: str, now: int, events: Sequence[Event] = ()
    ) -> SessionRow | None: ...
    async def count_active_sessions(self, now: int) -> int: ...

    # transactions and the local ledger
    async def insert_transaction(
        self, tx: NewTransaction | Mapping[str, Any]
    ) -> TransactionRow: ...
    async def update_transaction(
        self,
        tx_id: str,
        changes: Mapping[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> TransactionRow: ...
    async def get_transaction(self, tx_id: str) -> TransactionRow | None: ...
    async def list_transactions(
        self, wallet_id: str, limit: int, before_seq: int | None, network: str | None = None
    ) -> list[TransactionRow]: ...
    async def held_sequences(self, wallet_id: str, network: str, floor: int) -> list[int]:
        """The nonces at or above ``floor`` the wallet's records hold on ``network``, in order."""
        ...

    async def unsettled_transactions(self) -> list[TransactionRow]: ...
    async def sent_since(self, wallet_id: str, since: int) -> int: ...
    async def load_accounts(self) -> list[AccountSnapshot]: ...
    async def save_ledger_accounts(self, accounts: Sequence[AccountSnapshot]) -> None: ...

    # the embedded evm-local chain (chain/evm/embedded.py's EvmLocalStore)
    async def load_evm_local(self) -> list[tuple[bytes, bytes]]: ...
    async def save_evm_local(self, changes: Sequence[tuple[bytes, bytes | None]]) -> None: ...
    async def insert_send(self, tx: dict[str, Any], events: Sequence[Event] = ()) -> TransactionRow:
        """Insert a send or a payment; ``DuplicateKey`` when its idempotency key is taken."""
        ...

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
    ) -> TransactionRow | None: ...
    async def settle_transaction(
        self,
        tx_id: str,
        changes: dict[str, Any],
        accounts: Sequence[AccountSnapshot] = (),
    ) -> TransactionRow | None: ...
    async def waiting_transactions(self) -> list[TransactionRow]: ...
    async def due_transactions(self, now: int) -> list[TransactionRow]: ...
    async def next_due(self) -> int | None: ...

    # the token registry
    async def list_tokens(self, network: str) -> list[TokenRow]: ...
    async def get_token(self, network: str, mint: str) -> TokenRow | None: ...
    async def find_token_by_symbol(self, network: str, symbol: str) -> TokenRow | None: ...
    async def insert_token(
        self, token: TokenRow, accounts: Sequence[AccountSnapshot] = ()
    ) -> bool: ...

    # policy, controls, events
    async def get_policy(self, wallet_id: str) -> PolicyRow | None: ...
    async def put_policy(
        self,
        wallet_id: str,
        document: str,
        now: int,
        events: Sequence[Event] = (),
        *,
        expected_version: int | None = None,
    ) -> PolicyRow: ...
    async def token_totals(self, wallet_id: str, now: int) -> dict[str, tuple[int, int]]: ...
    async def get_payment(self, wallet_id: str, idempotency_key: str) -> TransactionRow | None: ...
    async def held_payment(
        self, wallet_id: str, url: str, session_id: str
    ) -> TransactionRow | None: ...
    async def payment_signed_by(self, signatures: Sequence[str]) -> TransactionRow | None: ...
    async def settle_payment_landed(
        self,
        signatures: Sequence[str],
        settlement: str,
        accounts: Sequence[AccountSnapshot],
        now: int,
    ) -> TransactionRow | None: ...
    async def send_inputs(
        self, wallet_id: str, session_id: str | None, now: int, *, mint: str | None = None
    ) -> SendInputs: ...
    async def record_denial(
        self, wallet_id: str, now: int, threshold: int, events: Sequence[Event] = ()
    ) -> int | None: ...
    async def get_kill_switch(self) -> KillSwitchRow: ...
    async def set_kill_switch(
        self, active: bool, reason: str | None, now: int, events: Sequence[Event] = ()
    ) -> KillSwitchRow: ...
    async def emit(self, events: Sequence[Event]) -> list[str]: ...
    async def emit_on(self, db: Connection, events: Sequence[Event]) -> list[str]: ...
    async def integrity_check(self) -> str: ...


__all__ = [
    "Connection",
    "Hook",
    "LimitReached",
    "Sink",
    "Storage",
    "dialect_of",
    "for_update",
]
