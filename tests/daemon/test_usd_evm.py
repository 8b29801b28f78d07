"""Dollar rules on an EVM wallet (the embedded evm-local chain): ETH and the test USDC
valued from the loopback Pyth server at ETH's and USDC's prices, counted in one dollar
daily limit with the record and the audit entry carrying the value."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock, Harness
from tests.support.prices import PriceFakes, price_fakes
from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

ETH = 10**18
RECIPIENT = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def fakes() -> Iterator[PriceFakes]:
    with price_fakes() as running:
        running.set("ETH", "2000")
        running.set("USDC", "1")
        yield running


@asynccontextmanager
async def priced_harness(tmp_path, fakes: PriceFakes) -> AsyncIterator[Harness]:
    clock = FakeClock()
    fakes.clock = clock
    settings = Settings(
        min_session_ttl=10,
        session_ttl=3600,
        pyth_url=fakes.pyth.url,
        coingecko_url=fakes.coingecko.url,
        jupiter_url=fakes.jupiter.url,
    )
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield Harness(state, http, clock)


async def test_evm_sends_of_eth_and_usdc_are_valued_and_share_one_dollar_limit(tmp_path, fakes):
    async with priced_harness(tmp_path, fakes) as harness:
        created = await harness.http.post(
            "/v1/wallets", json={"name": "eth", "chain": "evm"}, headers=MASTER
        )
        assert created.status_code == 201, created.text
        wallet = created.json()
        for body in ({"amount": str(2 * ETH)}, {"amount": "50000000", "token": "USDC"}):
            dropped = await harness.http.post(
                f"/v1/wallets/{wallet['id']}/airdrop", json=body, headers=MASTER
            )
            assert dropped.status_code == 201, dropped.text
        put = await harness.http.put(
            f"/v1/wallets/{wallet['id']}/policy",
            json={"usd": {"instantMax": "150", "dailyLimit": "130"}},
            headers=MASTER,
        )
        assert put.status_code == 200, put.text
        token = (await harness.session(wallet["id"]))["token"]
        agent = {"Authorization": f"Bearer {token}"}

        async def send(amount: int, **extra: str) -> httpx.Response:
            return await harness.http.post(
                "/v1/transactions/send",
                json={"to": RECIPIENT, "amount": str(amount), **extra},
                headers=agent,
            )

        eth = await send(ETH // 20)  # 0.05 ETH at $2000: $100
        assert eth.status_code == 201, eth.text
        assert eth.json()["usd"]["value"] == "100"
        usdc = await send(30_000_000, token="USDC")  # $30: exactly the $130 limit
        assert usdc.status_code == 201, usdc.text
        assert usdc.json()["usd"]["value"] == "30"
        over = await send(1, token="USDC")
        assert over.status_code == 202, over.text
        assert over.json()["tierReason"] == "usd.dailyLimit"
        record = (
            await harness.http.get(f"/v1/transactions/{eth.json()['id']}", headers=agent)
        ).json()
        assert record["usd"]["source"] == "pyth" and record["usd"]["price"] == "2000"
        audit = (
            await harness.http.get("/v1/audit", params={"action": "send.allowed"}, headers=MASTER)
        ).json()["items"]
        feeds = {e["details"]["usd"]["feed"] for e in audit if "usd" in e["details"]}
        assert feeds == {"ETH", "USDC"}
