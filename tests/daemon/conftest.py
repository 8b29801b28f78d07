"""In-process daemon: the real app and SQLite, an injected clock, httpx over ASGI."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

PASSWORD = "correct horse battery staple"
MASTER = {"X-Master-Password": PASSWORD}
START = 1_800_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass
class Harness:
    state: DaemonState
    http: httpx.AsyncClient
    clock: FakeClock

    def configure(self, **changes: Any) -> None:
        """Change settings as an operator would between two starts."""
        self.state.settings = dataclasses.replace(self.state.settings, **changes)

    async def wallet(self, name: str = "main") -> dict[str, Any]:
        response = await self.http.post("/v1/wallets", json={"name": name}, headers=MASTER)
        assert response.status_code == 201, response.text
        return response.json()

    async def session(self, wallet_id: str, **body: Any) -> dict[str, Any]:
        response = await self.http.post(
            "/v1/sessions", json={"walletId": wallet_id, **body}, headers=MASTER
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def renew(self, session: dict[str, Any], token: str | None = None) -> httpx.Response:
        return await self.http.put(
            f"/v1/sessions/{session['id']}/renew",
            headers={"Authorization": f"Bearer {token or session['token']}"},
        )

    async def as_agent(self, token: str, path: str = "/v1/wallet/address") -> httpx.Response:
        return await self.http.get(path, headers={"Authorization": f"Bearer {token}"})


# Price sources off: a test never asks the real price APIs (the console values holdings
# with them); tests of prices point [prices] at tests/support/prices.py's servers.
NO_PRICES = {"pyth_url": "", "coingecko_url": "", "jupiter_url": ""}


@pytest.fixture
def settings() -> Settings:
    return Settings(min_session_ttl=10, session_ttl=3600, **NO_PRICES)


@pytest.fixture
async def harness(tmp_path, settings) -> AsyncIterator[Harness]:
    clock = FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield Harness(state, http, clock)


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request, tmp_path):
    """Open (and reopen) one store of each backend: ``async with open_store() as db``."""
    from waiaas_daemon.storage import SqliteStorage

    if request.param == "sqlite":
        path = tmp_path / "waiaas.db"
        return lambda: SqliteStorage.open(path)
    from waiaas_daemon.storage.postgres import PostgresStorage

    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresStorage.open(url)
