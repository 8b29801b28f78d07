"""Shared fixtures: async tests run on asyncio (uvicorn and aiosqlite need it)."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
