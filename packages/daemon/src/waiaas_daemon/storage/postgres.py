"""``Storage`` on PostgreSQL (asyncpg): one database several daemons share.

The statements are SQLite's (``SqliteStorage``), run through ``PgConnection``,
which numbers SQLite's ``?`` placeholders as ``$1, $2, ...``; asyncpg's rows
read by name and by position as ``sqlite3.Row`` does. What differs is here:

- a pool of connections instead of one writer and one reader; a write is a
  READ COMMITTED transaction on one of them;
- ``wallet_lock``: a session-level advisory lock per wallet, held on its own
  connection for the whole send, so sends of one wallet from every daemon run
  one at a time; a daemon that dies drops its connection and with it the lock;
- ``exclusive``: a role one daemon plays at a time (the Telegram poller: one
  getUpdates per bot token), a session-level advisory lock the others wait for;
- ``insert_session`` counts under a transaction-level advisory lock per wallet;
- the audit chain's head is read ``FOR UPDATE`` (audit.append), so appends
  from every daemon form one chain;
- sessions and wallets are kept in memory only under a lease, forgotten when
  another daemon changes them, and a revoke waits until every daemon has
  forgotten the row (pg_cache.py); no other row is kept: another daemon may
  change any row at any time.

asyncpg over psycopg 3: about twice the statements per second on one
connection (benchmarks/postgres.py, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import asyncpg

from waiaas_daemon.storage.interface import StorageUnavailable
from waiaas_daemon.storage.migrations import MIGRATIONS, SchemaTooNew
from waiaas_daemon.storage.pg_cache import LEASE, Coherence
from waiaas_daemon.storage.pg_cache import SETUP as CACHE_SETUP
from waiaas_daemon.storage.rows import DAY_SECONDS, HOUR_SECONDS, MONTH_SECONDS, SendInputs
from waiaas_daemon.storage.sqlite import SqliteStorage

log = logging.getLogger("waiaas.storage")

POOL_SIZE = 10
# Each send in flight holds one connection for its wallet's lock.
LOCK_POOL_SIZE = 32
CONNECT_TIMEOUT = 10
# How often a daemon waiting for a role (the Telegram poller) asks whether it is free.
ROLE_RETRY = 1.0

_MIGRATE_LOCK = "waiaas:migrate"
# What a connection that cannot be used raises: the server is gone, refused us, or
# the connection broke (a cancelled statement, a restart).
_UNAVAILABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)
# ... and what a connection the server dropped may raise while the pool takes it back.
_BROKEN = (*_UNAVAILABLE, asyncpg.InternalClientError)


class _QuietPool(logging.Filter):
    """asyncpg's pool logs every failed reconnect with a traceback while the server is
    away; the daemon says so once per outage itself (domain/workers.py): DEBUG, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.WARNING and "restore the pool" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            return record_enabled(record)
        return True


def record_enabled(record: logging.LogRecord) -> bool:
    return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _quiet_pool_logs() -> None:
    pool_log = logging.getLogger("asyncpg.pool")
    if not any(isinstance(f, _QuietPool) for f in pool_log.filters):
        pool_log.addFilter(_QuietPool())


_quiet_pool_logs()


# -- the translating connection ---------------------------------------------------


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's ``?`` statements with PostgreSQL's numbered ``$n`` (and its ``IS DISTINCT``)."""
    sql = sql.replace("IS NOT ?", "IS DISTINCT FROM ?")
    parts = sql.split("?")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}{part}")
    return "".join(out)


@asynccontextmanager
async def _acquire(pool: Any) -> AsyncIterator[Any]:
    """A pooled connection; a server that cannot be reached is ``StorageUnavailable``.

    asyncpg reconnects a pooled connection the server dropped (a restart) when it
    is next acquired; while the server is away that connect fails with a bare
    ``OSError``, which would look like any other I/O failure.
    """
    try:
        conn = await pool.acquire()
    except (OSError, TimeoutError) as exc:
        raise StorageUnavailable(_safe_error(exc)) from None
    try:
        yield conn
    except asyncpg.InternalClientError:
        # What a connection the server dropped under a statement may raise ("cannot
        # switch to state ...; another operation is in progress"): the connection is
        # unusable, not the daemon broken. Dropped, so the pool opens a new one.
        conn.terminate()
        raise StorageUnavailable("the connection broke (the server restarted?)") from None
    finally:
        # Bounded: resetting a connection whose server went silent must not hold a
        # worker (and the wallet lock it may hold) for ever; a failed reset drops it.
        await pool.release(conn, timeout=CONNECT_TIMEOUT)


class _Cursor:
    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    async def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    async def fetchall(self) -> list[Any]:
        return self._rows


class _Statement:
    """What ``execute`` answers: awaitable, or ``async with`` as aiosqlite's is."""

    def __init__(self, run: Any) -> None:
        self._run = run

    def __await__(self) -> Any:
        return self._run.__await__()

    async def __aenter__(self) -> _Cursor:
        cursor: _Cursor = await self._run
        return cursor

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgConnection:
    """An asyncpg connection speaking the ``Connection`` interface (``?`` placeholders)."""

    dialect = "postgresql"

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> _Statement:
        return _Statement(self._run(sql, parameters))

    async def _run(self, sql: str, parameters: Sequence[Any]) -> _Cursor:
        return _Cursor(await self._conn.fetch(translate(sql), *parameters))

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        return list(await self._conn.fetch(translate(sql), *parameters))

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(translate(sql), list(parameters))


class _PoolReader:
    """The ``reader`` of the interface: each read on a pooled connection, autocommit."""

    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        async with _acquire(self._pool) as conn:
            return list(await conn.fetch(translate(sql), *parameters))

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        raise TypeError("the reader answers execute_fetchall only")

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        raise TypeError("the reader does not write")


async def _pool(url: str, size: int, *, min_size: int) -> Any:
    try:
        return await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=size,
            timeout=CONNECT_TIMEOUT,
            server_settings={"application_name": "waiaas-daemon"},
        )
    except _UNAVAILABLE as exc:
        raise StorageUnavailable(_safe_error(exc)) from None
    except ValueError as exc:  # a URL asyncpg cannot parse: its words may quote it
        raise StorageUnavailable(f"not a usable URL ({type(exc).__name__})") from None


async def _listener(url: str) -> Any:
    """The connection the row cache LISTENs and holds its lease on (outside the pools).

    Named with this process's id, so an operator (and a test) can tell whose it is.
    """
    return await asyncpg.connect(
        url,
        timeout=CONNECT_TIMEOUT,
        server_settings={"application_name": f"waiaas-daemon-cache:{os.getpid()}"},
    )


def _safe_error(exc: BaseException) -> str:
    """The server's words without the connection string (it may hold a password)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"postgres(ql)?://\S+", "<storage url>", text)


def _lock_key(kind: str, name: str) -> str:
    return f"waiaas:{kind}:{name}"


# -- the schema ------------------------------------------------------------------

_PG_TRIGGER = """
CREATE FUNCTION sessions_revoked_cancel_waiting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE transactions
    SET status = 'CANCELLED', reason = 'the session was revoked',
        decided_at = NEW.revoked_at, updated_at = NEW.revoked_at
    WHERE session_id = NEW.id AND status IN ('QUEUED', 'PENDING_APPROVAL');
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_revoked_cancel_waiting AFTER UPDATE OF revoked_at ON sessions
FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
EXECUTE FUNCTION sessions_revoked_cancel_waiting();
"""


def postgres_script(script: str) -> str:
    """One SQLite migration in PostgreSQL's words: the same tables, columns and indexes."""
    script = re.sub(
        r"CREATE TRIGGER sessions_revoked_cancel_waiting.*?END;", _PG_TRIGGER, script, flags=re.S
    )
    script = script.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)
    return re.sub(r"\bBLOB\b", "BYTEA", script)


POSTGRES_MIGRATIONS: tuple[str, ...] = tuple(postgres_script(m) for m in MIGRATIONS)


async def migrate(conn: Any) -> None:
    """Apply the missing migrations, one transaction each, one daemon at a time."""
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
    lock = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
    async with conn.transaction():
        await conn.execute(lock, _MIGRATE_LOCK)
        version = await conn.fetchval("SELECT version FROM schema_version")
        if version is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
    version = int(version or 0)
    if version > len(POSTGRES_MIGRATIONS):
        raise SchemaTooNew(
            f"the database schema is version {version}, newer than this daemon knows "
            f"({len(POSTGRES_MIGRATIONS)}); upgrade waiaas-daemon"
        )
    for number, script in enumerate(POSTGRES_MIGRATIONS, start=1):
        async with conn.transaction():
            await conn.execute(lock, _MIGRATE_LOCK)
            if int(await conn.fetchval("SELECT version FROM schema_version")) >= number:
                continue  # applied already (by another daemon, maybe meanwhile)
            await conn.execute(script)
            await conn.execute("UPDATE schema_version SET version = $1", number)
    async with conn.transaction():
        await conn.execute(lock, _MIGRATE_LOCK)
        await conn.execute(CACHE_SETUP)


# -- the storage -----------------------------------------------------------------


class PostgresStorage(SqliteStorage):
    """``Storage`` on a PostgreSQL database that several daemons may share."""

    shared = True
    _duplicate = (asyncpg.UniqueViolationError,)

    def __init__(self, pool: Any, locks: Any, coherence: Coherence) -> None:
        super().__init__(None, _PoolReader(pool))
        self._pool = pool
        self._locks = locks
        # The connection holding each role this daemon plays (exclusive).
        self._roles: dict[str, Any] = {}
        self.coherence = coherence
        self._wallets = coherence.cache("wallet")
        self._sessions = coherence.cache("session")

    @classmethod
    @asynccontextmanager
    async def open(  # type: ignore[override]
        cls, url: str, *, cache_lease: float | None = None
    ) -> AsyncIterator[PostgresStorage]:
        pool = await _pool(url, POOL_SIZE, min_size=1)
        try:
            locks = await _pool(url, LOCK_POOL_SIZE, min_size=0)
            try:
                try:
                    async with pool.acquire() as conn:
                        await migrate(conn)
                except _UNAVAILABLE as exc:  # gone, or refused (no right to create tables)
                    raise StorageUnavailable(_safe_error(exc)) from None
                coherence = Coherence(
                    functools.partial(_listener, url),
                    pool,
                    lease=LEASE if cache_lease is None else cache_lease,
                )
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(coherence.run)
                    try:
                        yield cls(pool, locks, coherence)
                    finally:
                        tasks.cancel_scope.cancel()
            finally:
                with anyio.CancelScope(shield=True):
                    await locks.close()
        finally:
            with anyio.CancelScope(shield=True):
                await pool.close()

    @asynccontextmanager
    async def transaction(self, *, after_commit: Any = None) -> AsyncIterator[Any]:
        """BEGIN ... COMMIT on a pooled connection (READ COMMITTED); ROLLBACK if it raises."""
        async with _acquire(self._pool) as conn:
            tx = conn.transaction()
            # Shielded as on SQLite: a cancel inside BEGIN or COMMIT must not
            # leave a pooled connection mid-transaction.
            with anyio.CancelScope(shield=True):
                await tx.start()
            try:
                yield PgConnection(conn)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await tx.rollback()
                    except _UNAVAILABLE:
                        conn.terminate()  # a statement cut off by a cancel: drop it
                raise
            with anyio.CancelScope(shield=True):
                await tx.commit()
                if after_commit is not None:
                    await after_commit()

    async def _statement(self, sql: str, params: Sequence[Any]) -> Any:
        """One write statement, committed by itself (autocommit): one round trip, not three."""
        async with _acquire(self._pool) as conn:
            with anyio.CancelScope(shield=True):
                return next(iter(await PgConnection(conn).execute_fetchall(sql, params)), None)

    @asynccontextmanager
    async def wallet_lock(self, wallet_id: str) -> AsyncIterator[None]:
        """The in-process lock, then the wallet's advisory lock, held for the whole send."""
        async with super().wallet_lock(wallet_id), _acquire(self._locks) as conn:
            key = _lock_key("wallet", wallet_id)
            await conn.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", key)
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await conn.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", key)

    @asynccontextmanager
    async def try_wallet_lock(self, wallet_id: str) -> AsyncIterator[bool]:
        async with super().try_wallet_lock(wallet_id) as mine:
            if not mine:
                yield False
                return
            async with _acquire(self._locks) as conn:
                key = _lock_key("wallet", wallet_id)
                got = bool(
                    await conn.fetchval("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key)
                )
                try:
                    yield got
                finally:
                    if got:
                        with anyio.CancelScope(shield=True):
                            await conn.execute(
                                "SELECT pg_advisory_unlock(hashtextextended($1, 0))", key
                            )

    @asynccontextmanager
    async def exclusive(self, role: str) -> AsyncIterator[None]:
        """The role's session-level advisory lock, tried every ``ROLE_RETRY`` s until held.

        Held on its own connection for the whole block; a daemon that dies drops
        the connection, the server the lock, and a waiting daemon takes over.
        """
        key = _lock_key("role", role)
        async with _acquire(self._locks) as conn:
            try_lock = "SELECT pg_try_advisory_lock(hashtextextended($1, 0))"
            unlock = "SELECT pg_advisory_unlock(hashtextextended($1, 0))"
            while not await conn.fetchval(try_lock, key):
                await anyio.sleep(ROLE_RETRY)
            self._roles[role] = conn
            try:
                yield
            finally:
                self._roles.pop(role, None)
                with anyio.CancelScope(shield=True):
                    try:
                        await conn.execute(unlock, key)
                    except _BROKEN:
                        # The lock goes with the connection (if the pool has not dropped it).
                        with contextlib.suppress(asyncpg.InterfaceError):
                            conn.terminate()

    async def holds(self, role: str) -> bool:
        """Is the role still ours? A session-level lock lasts as long as its connection,
        so a live connection is a held lock; a broken one (the database restarted,
        the network cut) has lost it, and another daemon may have it now."""
        conn = self._roles.get(role)
        if conn is None:
            return False
        try:
            with anyio.fail_after(CONNECT_TIMEOUT):
                await conn.fetchval("SELECT 1")
        except _BROKEN:
            return False
        return True

    # -- changes every daemon must have heard of before they are answered -------------

    async def revoke_session(self, *args: Any, **kwargs: Any) -> Any:
        row = await super().revoke_session(*args, **kwargs)
        await self.coherence.barrier()
        return row

    async def terminate_wallet(self, *args: Any, **kwargs: Any) -> Any:
        row = await super().terminate_wallet(*args, **kwargs)
        await self.coherence.barrier()
        return row

    async def set_wallet_status(self, *args: Any, **kwargs: Any) -> Any:
        row = await super().set_wallet_status(*args, **kwargs)
        await self.coherence.barrier()
        return row

    async def record_denial(self, *args: Any, **kwargs: Any) -> Any:
        suspended = await super().record_denial(*args, **kwargs)
        if suspended is not None:
            await self.coherence.barrier()
        return suspended

    async def insert_session(self, *args: Any, **kwargs: Any) -> Any:
        row = await super().insert_session(*args, **kwargs)
        if kwargs.get("replace_label") is not None:
            await self.coherence.barrier()  # sessions of that label were revoked
        return row

    async def _serialize_wallet(self, db: Any, wallet_id: str) -> None:
        # Until this transaction ends: the session count and the insert are one step.
        await db.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))",
            (_lock_key("sessions", wallet_id),),
        )

    async def integrity_check(self) -> str:
        await self._one("SELECT 1")
        return "ok"

    async def send_inputs(
        self, wallet_id: str, session_id: str | None, now: int, *, mint: str | None = None
    ) -> SendInputs:
        """SqliteStorage.send_inputs in PostgreSQL's words: amounts summed as NUMERIC."""
        counted = (
            "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED') "
            "AND token_mint IS NOT DISTINCT FROM $6"
        )
        amount = "CAST(amount AS NUMERIC)"
        any_asset = "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED')"
        session_usd = (
            "transactions WHERE session_id = $2 AND type IN ('TRANSFER', 'PAYMENT') "
            f"AND {any_asset}"
        )
        day, hour, month = now - DAY_SECONDS, now - HOUR_SECONDS, now - MONTH_SECONDS
        params = (wallet_id, session_id, day, hour, month, mint)
        sql = (
            "SELECT (SELECT status FROM wallets WHERE id = $1) AS wallet_status, "  # noqa: S608
            "(SELECT status_reason FROM wallets WHERE id = $1) AS wallet_reason, "
            "(SELECT revoked_at FROM sessions WHERE id = $2) AS revoked_at, "
            "(SELECT active FROM kill_switch WHERE id = 1) AS kill_switch, "
            "(SELECT document FROM policies WHERE wallet_id = $1) AS policy, "
            "(SELECT version FROM policies WHERE wallet_id = $1) AS version, "
            f"SUM(CASE WHEN {counted} AND created_at > $3 THEN {amount} END) AS daily, "
            f"SUM(CASE WHEN {counted} THEN {amount} END) AS monthly, "
            "COUNT(CASE WHEN created_at > $4 THEN 1 END) AS hour_count, "
            "MIN(CASE WHEN created_at > $4 THEN created_at END) AS hour_oldest, "
            f"SUM(CASE WHEN {any_asset} AND created_at > $3 THEN usd_micros END) AS usd_day, "
            f"SUM(CASE WHEN {any_asset} THEN usd_micros END) AS usd_month, "
            f"(SELECT SUM(CASE WHEN created_at > $3 THEN usd_micros END) FROM {session_usd}) "
            "AS session_usd_day, "
            f"(SELECT SUM(usd_micros) FROM {session_usd}) AS session_usd_total "
            "FROM transactions WHERE wallet_id = $1 AND type IN ('TRANSFER', 'PAYMENT') "
            "AND created_at > $5"
        )
        async with _acquire(self._pool) as conn:
            row = await conn.fetchrow(sql, *params)
        assert row is not None
        return SendInputs(
            wallet_status=row["wallet_status"],
            session_revoked=row["revoked_at"] is not None,
            kill_switch=bool(row["kill_switch"]),
            policy=row["policy"],
            policy_version=row["version"] or 0,
            daily=int(row["daily"] or 0),
            monthly=int(row["monthly"] or 0),
            sends_this_hour=row["hour_count"] or 0,
            oldest_this_hour=row["hour_oldest"],
            usd_daily=int(row["usd_day"] or 0),
            usd_monthly=int(row["usd_month"] or 0),
            session_usd_daily=int(row["session_usd_day"] or 0),
            session_usd_total=int(row["session_usd_total"] or 0),
            wallet_reason=row["wallet_reason"],
        )

    async def token_totals(self, wallet_id: str, now: int) -> dict[str, tuple[int, int]]:
        """SqliteStorage.token_totals in PostgreSQL's words: amounts summed as NUMERIC."""
        counted = "status NOT IN ('FAILED', 'REJECTED', 'CANCELLED', 'EXPIRED')"
        amount = "CAST(amount AS NUMERIC)"
        sql = (
            "SELECT token_mint, "  # noqa: S608 - fixed clauses
            f"SUM(CASE WHEN created_at > $2 THEN {amount} END) AS daily, "
            f"SUM({amount}) AS monthly "
            "FROM transactions WHERE wallet_id = $1 AND type IN ('TRANSFER', 'PAYMENT') "
            f"AND token_mint IS NOT NULL AND created_at > $3 AND {counted} "
            "GROUP BY token_mint"
        )
        async with _acquire(self._pool) as conn:
            rows = await conn.fetch(sql, wallet_id, now - DAY_SECONDS, now - MONTH_SECONDS)
        return {
            row["token_mint"]: (int(row["daily"] or 0), int(row["monthly"] or 0)) for row in rows
        }
