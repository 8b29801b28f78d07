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
