"""The embedded EVM (evm-local), the default network of EVM wallets: airdrops, sends of ETH
and the test USDC, the owner's rules on them, and balances that survive a restart."""

from __future__ import annotations

from contextlib import asynccontextmanager

import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock, Harness
from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

ETH = 10**18
RECIPIENT = "0x000000000000000000000000000000000000dEaD"
USDC = "0x0312eaBB9E6856FCaeD2E12746FC4dc4129872E1"


@asynccontextmanager
async def local_harness(tmp_path, clock=None):
    clock = clock or FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    settings = Settings(min_session_ttl=10, session_ttl=3600)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield Harness(state, http, clock)


async def _evm_wallet(harness):
    created = await harness.http.post(
        "/v1/wallets", json={"name": "eth", "chain": "evm"}, headers=MASTER
    )
    assert created.status_code == 201, created.text
    wallet = created.json()
    assert wallet["network"] == "evm-local"
    for body in ({"amount": str(2 * ETH)}, {"amount": "5000000", "token": "USDC"}):
        dropped = await harness.http.post(
            f"/v1/wallets/{wallet['id']}/airdrop", json=body, headers=MASTER
        )
        assert dropped.status_code == 201, dropped.text
        assert dropped.json()["status"] == "CONFIRMED" and dropped.json()["network"] == "evm-local"
    token = (await harness.session(wallet["id"]))["token"]
    return wallet, {"Authorization": f"Bearer {token}"}


async def test_evm_local_airdrops_and_sends_eth_and_usdc_and_keeps_them_across_a_restart(
    tmp_path,
):
    clock = FakeClock()
    async with local_harness(tmp_path, clock) as harness:
        wallet, agent = await _evm_wallet(harness)
        sent = await harness.http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": str(ETH // 4)},
            headers=agent,
        )
        assert sent.status_code == 201 and sent.json()["status"] == "CONFIRMED", sent.text
        paid = await harness.http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": "1500000", "token": "USDC"},
            headers=agent,
        )
        assert paid.status_code == 201 and paid.json()["status"] == "CONFIRMED", paid.text
        assets = (await harness.http.get("/v1/wallet/assets", headers=agent)).json()
        fee = int(
            (await harness.http.get(f"/v1/transactions/{sent.json()['id']}", headers=agent)).json()[
                "fee"
            ]
        )
        before = {a["symbol"]: a["amount"] for a in assets["items"]}
        assert before["USDC"] == "3500000"
        assert int(before["ETH"]) < 2 * ETH - ETH // 4 - fee + 1
    async with local_harness(tmp_path, clock) as harness:
        token = (await harness.session(wallet["id"]))["token"]
        again = (
            await harness.http.get(
                "/v1/wallet/assets", headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
        assert {a["symbol"]: a["amount"] for a in again["items"]} == before
        listed = (
            await harness.http.get("/v1/transactions", headers={"Authorization": f"Bearer {token}"})
        ).json()["items"]
        assert [t["nonce"] for t in listed if t["type"] == "TRANSFER"] == [1, 0]


async def test_evm_sends_go_through_the_owners_tiers_limits_and_kill_switch(tmp_path):
    async with local_harness(tmp_path) as harness:
        wallet, agent = await _evm_wallet(harness)
        put = await harness.http.put(
            f"/v1/wallets/{wallet['id']}/policy",
            json={
                "instantMax": str(ETH // 10),
                "tokens": {USDC.lower(): {"instantMax": "1000000"}},
                "allowedRecipients": [RECIPIENT.lower()],
            },
            headers=MASTER,
        )
        assert put.status_code == 200, put.text
        small = await harness.http.post(
            "/v1/transactions/send", json={"to": RECIPIENT, "amount": "1000"}, headers=agent
        )
        assert small.status_code == 201, small.text  # the allow list matches any case
        big = await harness.http.post(
            "/v1/transactions/send", json={"to": RECIPIENT, "amount": str(ETH)}, headers=agent
        )
        assert big.status_code == 202 and big.json()["status"] == "PENDING_APPROVAL"
        usdc = await harness.http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": "2000000", "token": "USDC"},
            headers=agent,
        )
        assert usdc.status_code == 202, usdc.text  # the token's own ceiling
        other = await harness.http.post(
            "/v1/transactions/send",
            json={"to": "0x000000000000000000000000000000000000bEEF", "amount": "1"},
            headers=agent,
        )
        assert other.status_code == 403 and other.json()["code"] == "POLICY_DENIED"
        approved = await harness.http.post(
            f"/v1/pending/{big.json()['id']}/approve", json={}, headers=MASTER
        )
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "CONFIRMED" and approved.json()["nonce"] == 1
        again = await harness.http.post(
            f"/v1/pending/{big.json()['id']}/approve", json={}, headers=MASTER
        )
        assert again.status_code == 409
        await harness.http.post("/v1/admin/kill-switch", json={}, headers=MASTER)
        stopped = await harness.http.post(
            "/v1/transactions/send", json={"to": RECIPIENT, "amount": "1"}, headers=agent
        )
        assert stopped.status_code == 403 and stopped.json()["code"] == "KILL_SWITCH_ACTIVE"
