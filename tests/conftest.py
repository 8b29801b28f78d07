"""Shared fixtures: async tests run on asyncio (uvicorn and aiosqlite need it)."""

import contextlib
import socket
import threading

import pytest

#: The daemon's default port (SPEC 3). The README's first command runs a daemon there.
DEFAULT_PORT = 3100


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def daemon(tmp_path):
    """A real daemon on a temp data dir, with a 1 s minimum session TTL."""
    from tests.support.daemon import FAST_SECURITY, running_daemon

    with running_daemon(tmp_path / "data", config={"security": FAST_SECURITY}) as running:
        yield running


@pytest.fixture
def fakes():
    """Loopback price sources in their real wire formats (tests/support/prices.py):
    SOL at $100 and USDC at $1. A module that needs other prices defines its own."""
    from tests.support.prices import price_fakes

    with price_fakes() as running:
        running.set("SOL", "100")
        running.set("USDC", "1")
        yield running


def _throwaway_cluster():
    """A PostgreSQL server of the test's own, stopped after it. It fails, never skips,
    when the server cannot start, unless WAIAAS_TEST_NO_POSTGRES=1 says to skip."""
    import os

    from tests.support.postgres import SKIP_ENV, start_cluster

    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: PostgreSQL tests skipped")
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_cluster():
    """One throwaway PostgreSQL server per test process (per xdist worker)."""
    yield from _throwaway_cluster()


@pytest.fixture
def postgres_url(postgres_cluster) -> str:
    """A fresh, empty database on the test server."""
    return postgres_cluster.create_database()


@pytest.fixture
def postgres_alone():
    """A PostgreSQL server this test alone uses, so it may stop and restart it
    (tests/faults) without disturbing the tests sharing ``postgres_cluster``."""
    yield from _throwaway_cluster()


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


@pytest.fixture(scope="session", autouse=True)
def default_port_is_taken():
    """127.0.0.1:3100 is taken for the whole run, as when the README's daemon is running.

    A test that binds the default port (a ``serve`` without ``--port``) or talks to
    it (a client left on its default URL) then fails here, in CI, and not only on a
    machine where a daemon happens to run: the README's two commands work together.
    The first holder wins: another xdist worker, or a daemon already there, holds it
    as well. Connections to it are accepted and closed at once, so such a test fails
    quickly instead of waiting for a timeout.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", DEFAULT_PORT))
        sock.listen(64)
    except OSError:  # taken already: by another worker of this run, or a daemon
        sock.close()
        yield
        return

    def refuse() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = sock.accept()
                conn.close()

    threading.Thread(target=refuse, name="default-port-holder", daemon=True).start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


def pytest_collection_modifyitems(config, items):
    """The heaviest files first, so parallel workers do not end the run on a long one
    while the others idle: files with a test marked ``slow``, then the rest by their
    number of tests, most first (a file's tests keep their order).

    nox runs xdist with ``--dist loadfile --no-loadscope-reorder``, which hands out
    files in this order; xdist's own reorder (by number of tests) put the files of a
    few long tests (faults, end-to-end) last, and two of three workers idled at the end.
    """
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    slow: set[str] = set()
    for index, item in enumerate(items):
        path = item.nodeid.split("::")[0]
        first.setdefault(path, index)
        count[path] = count.get(path, 0) + 1
        if item.get_closest_marker("slow") is not None:
            slow.add(path)

    def weight(item):
        path = item.nodeid.split("::")[0]
        return (path not in slow, -count[path], first[path])

    items.sort(key=weight)
