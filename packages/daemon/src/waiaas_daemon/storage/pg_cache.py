"""Session and wallet rows kept in memory on a shared PostgreSQL database.

sessionAuth reads a session and its wallet on every request. On SQLite one
process makes every change, so ``RowCache`` keeps them. On a shared database
another daemon may revoke a session or suspend a wallet at any time, and a
revoke's 200 must mean that no daemon accepts the token afterwards. This
module makes that hold with rows kept in memory:

- every UPDATE or DELETE of a ``sessions`` or ``wallets`` row notifies the
  ``waiaas_rows`` channel (a trigger, so no writer can forget it);
- each daemon LISTENs on its own connection and forgets a row when told;
- a daemon trusts its kept rows only under a *lease*: a row in
  ``row_cache_leases`` it renews every ``renew_every`` seconds on the same
  connection. It trusts them until ``lease`` seconds after it *sent* a
  renewal that succeeded, so never longer than the database thinks; when the
  connection breaks, or the lease ran out (a paused process), it forgets
  every row and reads from the database until it holds a lease again;
- a revoke, a suspension or a termination is followed by a *barrier*: a
  numbered notification after the change's own. Each daemon acknowledges it
  (``acked``) after it has forgotten the rows of every notification before
  it (one connection delivers them in commit order). The writer answers only
  when every daemon that holds a live lease on a live connection has
  acknowledged; a daemon that cannot acknowledge (paused, partitioned) stops
  trusting its rows when its lease runs out, and the writer waits that long.

A renewal (a new token) is not followed by a barrier: a daemon that has not
yet heard of it still accepts the old token, which the renewal's grace period
accepts anyway, and a new token the kept row does not know is looked up in
the database (``authenticate`` asks for a fresh row before refusing).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

from waiaas_daemon.storage.cache import RowCache

log = logging.getLogger("waiaas.storage")

Row = TypeVar("Row")

CHANNEL = "waiaas_rows"
#: How long a renewed lease lets a daemon trust its kept rows (seconds).
LEASE = 5.0
#: How often the lease is renewed; well under LEASE so a slow round trip does not lapse it.
RENEW_EVERY = 1.0
#: How often a writer asks whether every daemon acknowledged its barrier.
ACK_POLL = 0.005
#: Waiting for a daemon to reconnect after its LISTEN connection broke (doubles to this).
RECONNECT_MAX = 5.0

# Run by PostgresStorage after the migrations, under the migration lock: PostgreSQL only
# (SQLite has one process and RowCache), so not an entry of the shared MIGRATIONS list.
SETUP = """
CREATE TABLE IF NOT EXISTS row_cache_leases (
    id TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    lease_until BIGINT NOT NULL,
    acked BIGINT NOT NULL DEFAULT 0
);
CREATE SEQUENCE IF NOT EXISTS row_cache_barrier;
-- The database's clock, the one every lease is measured by (milliseconds).
CREATE OR REPLACE FUNCTION waiaas_now_ms() RETURNS BIGINT LANGUAGE sql VOLATILE AS $$
    SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint
$$;
CREATE OR REPLACE FUNCTION waiaas_rows_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row_id TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN row_id := OLD.id; ELSE row_id := NEW.id; END IF;
    PERFORM pg_notify('waiaas_rows', TG_ARGV[0] || ':' || row_id);
    RETURN NULL;
END $$;
-- Created once: a trigger's DDL locks its table, and this runs at every start.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'sessions_changed_notify') THEN
        CREATE TRIGGER sessions_changed_notify AFTER UPDATE OR DELETE ON sessions
            FOR EACH ROW EXECUTE FUNCTION waiaas_rows_changed('session');
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'wallets_changed_notify') THEN
        CREATE TRIGGER wallets_changed_notify AFTER UPDATE OR DELETE ON wallets
            FOR EACH ROW EXECUTE FUNCTION waiaas_rows_changed('wallet');
    END IF;
END $$;
DELETE FROM row_cache_leases WHERE lease_until < waiaas_now_ms() - 3600000;
"""


class LeasedCache(RowCache[Row], Generic[Row]):
    """RowCache whose rows are used only while ``trusted()`` says the lease holds."""

    def __init__(self, trusted: Callable[[], bool]) -> None:
        super().__init__()
        self._trusted = trusted

    async def get(self, key: str, read: Callable[[], Awaitable[Row | None]]) -> Row | None:
        if not self._trusted():
            return await read()
        return await super().get(key, read)


class Coherence:
    """This daemon's LISTEN connection, its lease, and the barriers writers wait on."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        pool: Any,
        *,
        lease: float = LEASE,
        renew_every: float = RENEW_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._pool = pool
        self.lease = lease
        self._renew_every = min(renew_every, lease / 4)
        self._clock = clock
        self.ident = uuid.uuid4().hex
        self._trusted_until = -math.inf
        self._caches: list[RowCache[Any]] = []
        self._by_kind: dict[str, RowCache[Any]] = {}
        self._barrier_seen = 0
        self._wake = anyio.Event()
        self._conn: Any = None
        self._held = False

    def cache(self, kind: str) -> LeasedCache[Any]:
        cache: LeasedCache[Any] = LeasedCache(self.trusted)
        self._caches.append(cache)
        self._by_kind[kind] = cache
        return cache

    def trusted(self) -> bool:
        """May kept rows be used now? Only on a live LISTEN connection, within the lease."""
        if self._clock() < self._trusted_until and not self._conn_closed():
            return True
        if self._trusted_until != -math.inf:
            self._distrust()
        return False

    def _conn_closed(self) -> bool:
        conn = self._conn
        return conn is None or conn.is_closed()

    def _distrust(self) -> None:
        self._trusted_until = -math.inf
        for cache in self._caches:
            cache.invalidate()

    # -- the listener ------------------------------------------------------------

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        kind, _, key = payload.partition(":")
        if kind == "barrier":
            with contextlib.suppress(ValueError):
                self._barrier_seen = max(self._barrier_seen, int(key))
                self._wake.set()
            return
        cache = self._by_kind.get(kind)
        if cache is not None:
            cache.invalidate(key)

    async def run(self) -> None:
        """Hold a lease for as long as the daemon runs; reconnect when the connection breaks."""
        delay = 0.1
        while True:
            self._held = False
            try:
                await self._hold()
            except Exception as exc:  # the server went away, refused us, or the socket broke
                self._distrust()
                if self._held:
                    delay = 0.1
                    log.warning(
                        "storage: row cache off (%s); every row is read from the database "
                        "until the connection is back",
                        type(exc).__name__,
                    )
            await anyio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _hold(self) -> None:
        conn = await self._connect()
        try:
            await conn.add_listener(CHANNEL, self._notified)
            # Barriers numbered so far were issued before this daemon listened: nothing
            # it kept can be older than them (it keeps nothing yet).
            issued = await conn.fetchval(
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM row_cache_barrier"
            )
            self._barrier_seen = max(self._barrier_seen, int(issued))
            self._distrust()
            self._conn = conn
            while True:
                sent = self._clock()
                barrier = self._barrier_seen
                await conn.execute(
                    "INSERT INTO row_cache_leases (id, pid, lease_until, acked) "
                    "VALUES ($1, $2, waiaas_now_ms() + $3, $4) "
                    "ON CONFLICT (id) DO UPDATE SET pid = EXCLUDED.pid, "
                    "lease_until = EXCLUDED.lease_until, "
                    "acked = GREATEST(row_cache_leases.acked, EXCLUDED.acked)",
                    self.ident,
                    conn.get_server_pid(),
                    int(self.lease * 1000),
                    barrier,
                )
                if sent >= self._trusted_until:
                    # Not trusted when this renewal was sent (first lease, or lapsed while
                    # paused): forget everything kept before trusting again.
                    self._distrust()
                self._trusted_until = sent + self.lease
                if not self._held:
                    self._held = True
                    log.info("storage: row cache on (lease %.1f s)", self.lease)
                self._wake = anyio.Event()
                if self._barrier_seen > barrier:
                    continue  # acknowledge at once
                with anyio.move_on_after(self._renew_every):
                    await self._wake.wait()
        finally:
            self._conn = None
            self._distrust()
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await conn.execute("DELETE FROM row_cache_leases WHERE id = $1", self.ident)
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await conn.close(timeout=1)

    # -- the writer's side -------------------------------------------------------

    async def barrier(self) -> None:
        """Return once every daemon with a live lease has forgotten the rows changed so far."""
        async with self._pool.acquire() as conn:
            number = int(await conn.fetchval("SELECT nextval('row_cache_barrier')"))
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"barrier:{number}")
            deadline = self._clock() + 2 * self.lease + 1
            while True:
                waiting = await conn.fetchval(
                    "SELECT count(*) FROM row_cache_leases l WHERE l.acked < $1 "
                    "AND l.lease_until > waiaas_now_ms() "
                    "AND EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid)",
                    number,
                )
                if not waiting:
                    return
                if self._clock() > deadline:
                    # Only a daemon that renews its lease yet never reads its
                    # notifications could hold this up; it is not ours to wait for.
                    log.warning("storage: %d daemon(s) did not acknowledge a revoke", waiting)
                    return
                await anyio.sleep(ACK_POLL)
