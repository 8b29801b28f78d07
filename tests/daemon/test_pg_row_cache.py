"""Session and wallet rows kept in memory on PostgreSQL (storage/pg_cache.py).

In process: the rows are kept (a second read asks the database nothing), a change
by anyone reaches every daemon's memory, and a lost LISTEN connection stops the
keeping. Through real daemons on one database: a revoke's 200 means no daemon
accepts the token afterwards, also a daemon that was paused while it happened;
a daemon that died is not waited for; a renewal through one daemon is accepted
at once through the other.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest

from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from tests.support.local_node import LocalNode, running_local_node
from waiaas_daemon.storage.postgres import PostgresStorage
from waiaas_daemon.storage.rows import NewSession, NewWallet

pytestmark = pytest.mark.slow


# -- in process ------------------------------------------------------------------


class CountingReader:
    """The storage's reader, counting the statements that reach the database."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads = 0
        self.dialect = inner.dialect

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        self.reads += 1
        return await self.inner.execute_fetchall(sql, parameters)


def new_wallet() -> NewWallet:
    wallet_id = str(uuid.uuid4())
    return NewWallet(
        id=wallet_id,
        name=f"w-{wallet_id[:8]}",
        chain="solana",
        network="devnet",
        address=f"addr-{wallet_id}",
        status="ACTIVE",
        created_at=1,
        key_ciphertext=b"c",
        key_nonce=b"n",
        key_salt=b"s",
        kdf="argon2id",
    )


async def stored_session(storage: PostgresStorage) -> tuple[str, str]:
    wallet = await storage.insert_wallet(new_wallet())
    session = NewSession(
        id=str(uuid.uuid4()),
        wallet_id=wallet.id,
        label=None,
        token_hash="h1",
        ttl=3600,
        expires_at=int(time.time()) + 3600,
        constraints=None,
        created_at=int(time.time()),
    )
    await storage.insert_session(session, limit=5, now=int(time.time()), replace_label=None)
    return wallet.id, session.id


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10) -> None:
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.01)


async def until_trusted(storage: PostgresStorage) -> None:
    async def trusted() -> bool:
        return storage.coherence.trusted()

    await eventually(trusted, "the lease")


@pytest.mark.anyio
async def test_rows_are_kept_and_forgotten_when_anyone_changes_them(postgres_url):
    async with PostgresStorage.open(postgres_url) as storage:
        await until_trusted(storage)
        _wallet_id, session_id = await stored_session(storage)
        reader = CountingReader(storage._reader)
        storage._reader = reader

        first = await storage.get_session(session_id)
        for _ in range(20):
            assert await storage.get_session(session_id) == first
        assert reader.reads == 1  # kept: 20 reads, one statement

        # A change made outside this daemon (another daemon, an operator's SQL).
        other = await asyncpg.connect(postgres_url)
        try:
            await other.execute("UPDATE sessions SET token_hash = 'h2' WHERE id = $1", session_id)
        finally:
            await other.close()

        async def changed() -> bool:
            row = await storage.get_session(session_id)
            return row is not None and row.token_hash == "h2"

        await eventually(changed, "the change to reach the kept row")


@pytest.mark.anyio
async def test_a_lost_listening_connection_stops_the_keeping_until_it_is_back(postgres_url):
    async with PostgresStorage.open(postgres_url) as storage:
        await until_trusted(storage)
        _wallet_id, session_id = await stored_session(storage)
        reader = CountingReader(storage._reader)
        storage._reader = reader
        await storage.get_session(session_id)

        admin = await asyncpg.connect(postgres_url)
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = $1",
                f"waiaas-daemon-cache:{os.getpid()}",
            )

            async def distrusted() -> bool:
                return not storage.coherence.trusted()

            await eventually(distrusted, "the cache to notice")
            before = reader.reads
            await storage.get_session(session_id)
            await storage.get_session(session_id)
            # Untrusted: every read asks the database (unless the lease is back already).
            assert reader.reads - before >= 1
            await until_trusted(storage)
            before = reader.reads
            for _ in range(5):
                await storage.get_session(session_id)
            assert reader.reads - before <= 1
        finally:
            await admin.close()


@pytest.mark.anyio
async def test_a_row_changed_elsewhere_and_not_yet_heard_of_is_read_afresh_when_asked(
    postgres_url,
):
    """What sessionAuth does with a token its kept row does not know (a renewal made
    through another daemon a moment ago): ``refresh_session`` reads past the cache."""
    async with (
        PostgresStorage.open(postgres_url) as a,
        PostgresStorage.open(postgres_url) as b,
    ):
        await until_trusted(a)
        await until_trusted(b)
        _wallet_id, session_id = await stored_session(a)
        await b.get_session(session_id)
        # b does not hear of the change yet (its notifications held back).
        await b.coherence._conn.remove_listener("waiaas_rows", b.coherence._notified)
        await a.swap_session_token(
            session_id,
            "h1",
            "h2",
            expires_at=int(time.time()) + 3600,
            now=int(time.time()),
            prev_valid_until=time.time() + 30,
            events=[],
        )
        stale = await b.get_session(session_id)
        assert stale is not None and stale.token_hash == "h1"
        fresh = await b.refresh_session(session_id)
        assert fresh is not None and fresh.token_hash == "h2"


# -- real daemons ----------------------------------------------------------------


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_local_node(tmp_path / "local-node.db") as running:
        yield running


def two_daemons(tmp_path: Path, url: str, node: LocalNode, lease: float) -> list[Daemon]:
    config = {
        "storage": {"url": url, "row_cache_lease": lease},
        "solana": {"network": "devnet", "rpc_url": node.url},
        "security": FAST_SECURITY,
    }
    return [start_daemon(tmp_path / f"d{n}", config=config) for n in range(2)]


def get_address(daemon: Daemon, token: str) -> Any:
    with daemon.client() as http:
        return http.get("/v1/wallet/address", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, node: LocalNode, request) -> Iterator[list[Daemon]]:
    lease = getattr(request, "param", 5.0)
    started = two_daemons(tmp_path, postgres_url, node, lease)
    try:
        yield started
    finally:
        for daemon in started:
            if daemon.process.poll() is None:
                os.kill(daemon.process.pid, signal.SIGCONT)
            daemon.kill()
            daemon.close()


def test_a_revoke_through_one_daemon_is_refused_at_once_through_the_other(pair):
    a, b = pair
    wallet = a.create_wallet()
    for _ in range(10):
        session = a.create_session(wallet["id"])
        token = session["token"]
        for _ in range(3):  # kept in b's memory
            assert get_address(b, token).status_code == 200
        revoked = a.api("DELETE", f"/v1/sessions/{session['id']}")
        assert revoked.status_code == 200, revoked.text
        refused = get_address(b, token)
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "SESSION_REVOKED"


async def lease_of(url: str, pid: int) -> tuple[int, int]:
    """A daemon's lease (database milliseconds), and the database's clock now."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT l.lease_until, waiaas_now_ms() AS now FROM row_cache_leases l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.application_name = $1",
            f"waiaas-daemon-cache:{pid}",
        )
    finally:
        await conn.close()
    assert row is not None, "the daemon holds no lease"
    return row["lease_until"], row["now"]


@pytest.mark.parametrize("pair", [1.0], indirect=True)
def test_a_daemon_paused_during_a_revoke_no_longer_accepts_the_token(pair, postgres_url):
    a, b = pair
    wallet = a.create_wallet()
    session = a.create_session(wallet["id"])
    token = session["token"]
    assert get_address(b, token).status_code == 200
    os.kill(b.process.pid, signal.SIGSTOP)
    try:
        lease_until, _ = anyio.run(lease_of, postgres_url, b.process.pid)
        started = time.monotonic()
        assert a.api("DELETE", f"/v1/sessions/{session['id']}").status_code == 200
        waited = time.monotonic() - started
        _, answered_at = anyio.run(lease_of, postgres_url, b.process.pid)
    finally:
        os.kill(b.process.pid, signal.SIGCONT)
    # The revoke answered only once b's lease had run out (b could not acknowledge),
    # and within twice the lease.
    assert answered_at >= lease_until
    assert waited < 5, waited
    refused = get_address(b, token)
    assert refused.status_code == 401, refused.text


@pytest.mark.parametrize("pair", [30.0], indirect=True)
def test_a_daemon_that_died_is_not_waited_for(pair):
    a, b = pair
    wallet = a.create_wallet()
    session = a.create_session(wallet["id"])
    assert get_address(b, session["token"]).status_code == 200
    b.kill()
    started = time.monotonic()
    assert a.api("DELETE", f"/v1/sessions/{session['id']}").status_code == 200
    assert time.monotonic() - started < 10  # not its 30 s lease
