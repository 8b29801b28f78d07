"""A pooled PostgreSQL connection the server dropped under a statement.

After ``pg_ctl restart`` asyncpg may answer a statement on such a connection with
``InternalClientError: cannot switch to state ...; another operation is in
progress``. Before, that was taken for a defect of ours: the worker logged a
traceback, and the broken connection went back to the pool for the next send's
wallet lock. Now it is the database unavailable for a moment (503, the worker backs
off) and the connection is dropped. A real server cannot be made to do this on
demand, so the pool here is a stand-in for asyncpg's.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from waiaas_daemon.storage import StorageUnavailable, unavailable
from waiaas_daemon.storage.postgres import CONNECT_TIMEOUT, _acquire

pytestmark = pytest.mark.anyio


class Conn:
    terminated = False

    def terminate(self) -> None:
        self.terminated = True


class Pool:
    def __init__(self) -> None:
        self.conn = Conn()
        self.released: list[tuple[Any, float | None]] = []

    async def acquire(self) -> Conn:
        return self.conn

    async def release(self, conn: Conn, *, timeout: float | None = None) -> None:
        self.released.append((conn, timeout))


async def test_a_connection_broken_under_a_statement_is_dropped_and_storage_unavailable():
    pool = Pool()
    with pytest.raises(StorageUnavailable) as raised:
        async with _acquire(pool):
            raise asyncpg.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            )
    assert pool.conn.terminated
    assert pool.released == [(pool.conn, CONNECT_TIMEOUT)]
    assert unavailable(raised.value)


async def test_other_errors_pass_through_and_the_connection_goes_back_to_the_pool():
    pool = Pool()
    with pytest.raises(KeyError):
        async with _acquire(pool):
            raise KeyError("ours")
    assert not pool.conn.terminated
    assert pool.released == [(pool.conn, CONNECT_TIMEOUT)]


def test_asyncpg_internal_client_errors_count_as_the_database_unavailable():
    assert unavailable(asyncpg.InternalClientError("cannot switch to state 12"))
