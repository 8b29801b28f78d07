"""``Storage`` on PostgreSQL (psycopg 3): one database several daemons share.

The statements are SQLite's (``SqliteStorage``), run through ``PgConnection``,
which turns ``?`` into psycopg's ``%s`` and answers rows that read by name and
by position. What differs is here:

- a small pool of connections instead of one writer and one reader; a write
  is a READ COMMITTED transaction on one of them;
- ``wallet_lock``: a session-level advisory lock per wallet, held on its own
  connection for the whole send, so sends of one wallet from every daemon run
  one at a time; a daemon that dies drops its connection and with it the lock;
- ``insert_session`` counts under a transaction-level advisory lock per wallet;
- the audit chain's head is read ``FOR UPDATE`` (audit.append), so appends
  from every daemon form one chain;
- no row cache: another daemon may change any row at any time.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import psycopg

from waiaas_daemon.storage.migrations import MIGRATIONS, SchemaTooNew
from waiaas_daemon.storage.rows import DAY_SECONDS, HOUR_SECONDS, MONTH_SECONDS, SendInputs
from waiaas_daemon.storage.sqlite import SqliteStorage

log = logging.getLogger("waiaas.storage")

POOL_SIZE = 10
# Each send in flight holds one connection for its wallet's lock.
LOCK_POOL_SIZE = 32
CONNECT_TIMEOUT = 10

_MIGRATE_LOCK = "waiaas:migrate"


class StorageUnavailable(Exception):
    """The PostgreSQL server cannot be reached or refused us (no URL or password in it)."""


# -- the translating connection ---------------------------------------------------


class Row(dict[str, Any]):
    """A row by column name (``dict``) and by position, as ``sqlite3.Row`` reads."""

    __slots__ = ("_values",)

    def __init__(self, names: Sequence[str], values: Sequence[Any]) -> None:
        super().__init__(zip(names, values, strict=True))
        self._values = values

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return dict.__getitem__(self, key)


def _row_factory(cursor: Any) -> Any:
    names = [c.name for c in cursor.description] if cursor.description else []
    return lambda values: Row(names, values)


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite's ``?`` statements as psycopg's ``%s`` ones (the few dialect words too)."""
    sql = sql.replace("%", "%%")
    sql = sql.replace("IS NOT ?", "IS DISTINCT FROM ?")
    return sql.replace("?", "%s")


class _Cursor:
    def __init__(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount

    async def fetchone(self) -> Any:
        return await self._cursor.fetchone() if self._cursor.description else None

    async def fetchall(self) -> list[Any]:
        return list(await self._cursor.fetchall()) if self._cursor.description else []


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
    """A psycopg connection speaking the ``Connection`` interface (``?`` placeholders)."""

    dialect = "postgresql"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = ()) -> _Statement:
        return _Statement(self._run(sql, parameters))

    async def _run(self, sql: str, parameters: Any) -> _Cursor:
        cursor = self._conn.cursor()
        await cursor.execute(translate(sql), parameters)
        return _Cursor(cursor)

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        cursor = await self._run(sql, parameters)
        return await cursor.fetchall()

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        async with self._conn.cursor() as cursor:
            await cursor.executemany(translate(sql), list(parameters))


class _Pool:
    """A few open connections, lent one at a time; a broken one is closed, not returned."""

    def __init__(self, url: str, size: int) -> None:
        self._url = url
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = anyio.Semaphore(size)
        self._all: set[psycopg.AsyncConnection[Any]] = set()

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                row_factory=_row_factory,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="waiaas-daemon",
            )
        except psycopg.Error as exc:
            raise StorageUnavailable(_safe_error(exc)) from None
        self._all.add(conn)
        return conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self.connect()
            try:
                yield conn
            except BaseException:
                if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    self._all.discard(conn)
                    with anyio.CancelScope(shield=True):
                        await conn.close()
                else:
                    self._idle.append(conn)
                raise
            if conn.closed:
                self._all.discard(conn)
            else:
                self._idle.append(conn)

    async def close(self) -> None:
        for conn in list(self._all):
            await conn.close()
        self._all.clear()
        self._idle.clear()


class _PoolReader:
    """The ``reader`` of the interface: each read on a pooled connection, autocommit."""

    dialect = "postgresql"

    def __init__(self, pool: _Pool) -> None:
        self._pool = pool

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        async with self._pool.connection() as conn:
            return await PgConnection(conn).execute_fetchall(sql, parameters)

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        raise TypeError("the reader answers execute_fetchall only")

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> None:
        raise TypeError("the reader does not write")


class _NoCache:
    """RowCache's interface, keeping nothing: other daemons change rows too."""

    async def get(self, key: str, read: Any) -> Any:
        return await read()

    def invalidate(self, key: str | None = None) -> None:
        return None

    @contextmanager
    def changing(self, key: str | None = None) -> Iterator[None]:
        yield


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


async def migrate(conn: psycopg.AsyncConnection[Any]) -> None:
    """Apply the missing migrations, one transaction each, one daemon at a time."""
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
    async with conn.transaction():
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_MIGRATE_LOCK,)
        )
        cursor = await conn.execute("SELECT version FROM schema_version")
        row = await cursor.fetchone()
        if row is None:
            await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        version = 0 if row is None else int(row[0])
    if version > len(POSTGRES_MIGRATIONS):
        raise SchemaTooNew(
            f"the database schema is version {version}, newer than this daemon knows "
            f"({len(POSTGRES_MIGRATIONS)}); upgrade waiaas-daemon"
        )
    for number, script in enumerate(POSTGRES_MIGRATIONS, start=1):
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_MIGRATE_LOCK,)
            )
            cursor = await conn.execute("SELECT version FROM schema_version")
            current = await cursor.fetchone()
            assert current is not None
            if int(current[0]) >= number:
                continue  # another daemon applied it meanwhile
            await conn.execute(script.encode())
            await conn.execute("UPDATE schema_version SET version = %s", (number,))


# -- the storage -----------------------------------------------------------------


class PostgresStorage(SqliteStorage):
    """``Storage`` on a PostgreSQL database that several daemons may share."""

    shared = True

    def __init__(self, pool: _Pool, locks: _Pool) -> None:
        super().__init__(None, _PoolReader(pool))
        self._pool = pool
        self._locks = locks
        self._wallets = _NoCache()  # type: ignore[assignment]
        self._sessions = _NoCache()  # type: ignore[assignment]

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresStorage]:  # type: ignore[override]
        pool, locks = _Pool(url, POOL_SIZE), _Pool(url, LOCK_POOL_SIZE)
        try:
            async with pool.connection() as conn:
                await migrate(conn)
            yield cls(pool, locks)
        finally:
            with anyio.CancelScope(shield=True):
                await locks.close()
                await pool.close()

    @asynccontextmanager
    async def transaction(self, *, after_commit: Any = None) -> AsyncIterator[Any]:
        """BEGIN ... COMMIT on a pooled connection (READ COMMITTED); ROLLBACK if it raises."""
        async with self._pool.connection() as conn:
            # Shielded as on SQLite: a cancel inside BEGIN or COMMIT must not
            # leave a pooled connection mid-transaction.
            with anyio.CancelScope(shield=True):
                await conn.execute("BEGIN")
            try:
                yield PgConnection(conn)
            except BaseException:
                # A cancelled statement makes psycopg close the connection: nothing
                # to roll back then (the server did), and the pool drops it.
                with anyio.CancelScope(shield=True):
                    if not conn.closed:
                        try:
                            await conn.execute("ROLLBACK")
                        except psycopg.Error:
                            await conn.close()
                raise
            with anyio.CancelScope(shield=True):
                await conn.execute("COMMIT")
                if after_commit is not None:
                    await after_commit()

    @asynccontextmanager
    async def wallet_lock(self, wallet_id: str) -> AsyncIterator[None]:
        """The in-process lock, then the wallet's advisory lock, held for the whole send."""
        async with super().wallet_lock(wallet_id), self._locks.connection() as conn:
            key = _lock_key("wallet", wallet_id)
            await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
            try:
                yield
            finally:
                with anyio.CancelScope(shield=True):
                    await conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    @asynccontextmanager
    async def try_wallet_lock(self, wallet_id: str) -> AsyncIterator[bool]:
        async with super().try_wallet_lock(wallet_id) as mine:
            if not mine:
                yield False
                return
            async with self._locks.connection() as conn:
                key = _lock_key("wallet", wallet_id)
                cursor = await conn.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)
                )
                row = await cursor.fetchone()
                got = bool(row and row[0])
                try:
                    yield got
                finally:
                    if got:
                        with anyio.CancelScope(shield=True):
                            await conn.execute(
                                "SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,)
                            )

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
            "AND token_mint IS NOT DISTINCT FROM %(t)s"
        )
        amount = "CAST(amount AS NUMERIC)"
        params = {
            "w": wallet_id,
            "s": session_id,
            "day": now - DAY_SECONDS,
            "hour": now - HOUR_SECONDS,
            "month": now - MONTH_SECONDS,
            "t": mint,
        }
        sql = (
            "SELECT (SELECT status FROM wallets WHERE id = %(w)s) AS wallet_status, "  # noqa: S608
            "(SELECT revoked_at FROM sessions WHERE id = %(s)s) AS revoked_at, "
            "(SELECT active FROM kill_switch WHERE id = 1) AS kill_switch, "
            "(SELECT document FROM policies WHERE wallet_id = %(w)s) AS policy, "
            "(SELECT version FROM policies WHERE wallet_id = %(w)s) AS version, "
            f"SUM(CASE WHEN {counted} AND created_at > %(day)s THEN {amount} END) AS daily, "
            f"SUM(CASE WHEN {counted} THEN {amount} END) AS monthly, "
            "COUNT(CASE WHEN created_at > %(hour)s THEN 1 END) AS hour_count, "
            "MIN(CASE WHEN created_at > %(hour)s THEN created_at END) AS hour_oldest "
            "FROM transactions WHERE wallet_id = %(w)s AND type = 'TRANSFER' "
            "AND created_at > %(month)s"
        )
        async with self._pool.connection() as conn:
            cursor = await conn.execute(sql, params)
            row = await cursor.fetchone()
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
        )
