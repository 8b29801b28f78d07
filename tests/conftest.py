"""Shared fixtures: async tests run on asyncio (uvicorn and aiosqlite need it)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def daemon(tmp_path):
    """A real daemon on a temp data dir, with a 1 s minimum session TTL."""
    from tests.support.daemon import FAST_SECURITY, running_daemon

    with running_daemon(tmp_path / "data", config={"security": FAST_SECURITY}) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL server per test process (per xdist worker).

    It fails, never skips, when the server cannot start, unless
    WAIAAS_TEST_NO_POSTGRES=1 says to skip the PostgreSQL tests.
    """
    import os

    from tests.support.postgres import SKIP_ENV, start_cluster

    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: PostgreSQL tests skipped")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """A fresh, empty database on the test server."""
    return postgres_cluster.create_database()


@pytest.fixture
def anvil():
    """A fresh anvil (automine on) on a loopback port; fails, never skips, without the binary
    unless WAIAAS_TEST_NO_ANVIL=1 says to skip the anvil tests.
    """
    import os

    from tests.support.anvil import SKIP_ENV, start_anvil

    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: anvil tests skipped")
    node = start_anvil()
    try:
        yield node
    finally:
        node.stop()
