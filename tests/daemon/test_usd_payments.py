"""x402 payments under dollar rules, in a real daemon with a loopback shop and loopback
price servers: a payment is valued like a send, recorded with its value, and counted
in the same dollar totals as sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.daemon.test_x402 import World, _world
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon
from tests.support.prices import PriceFakes, price_fakes

pytestmark = [pytest.mark.anyio]


@pytest.fixture
def fakes() -> Iterator[PriceFakes]:
    with price_fakes() as running:
        running.set("USDC", "1.00")
        running.set("SOL", "100")
        yield running


@pytest.fixture
def priced_daemon(tmp_path, fakes) -> Iterator[Daemon]:
    config = {"security": FAST_SECURITY, "prices": fakes.config()}
    with running_daemon(tmp_path / "data", config=config) as daemon:
        yield daemon


@pytest.fixture
async def world(priced_daemon: Daemon) -> AsyncIterator[World]:
    async with _world(priced_daemon) as made:
        yield made


def record(world: World, tx_id: str) -> dict:
    session = world.daemon.create_session(world.wallet["id"])
    with world.daemon.client() as http:
        answer = http.get(
            f"/v1/transactions/{tx_id}", headers={"Authorization": f"Bearer {session['token']}"}
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_payment_is_valued_and_recorded_in_dollars(world: World):
    world.allow_shop(usd={"instantMax": "1"})
    paid = await world.pay(idempotencyKey="usd-paid-1")
    assert paid.status_code == 201, paid.text
    tx = record(world, paid.json()["payment"]["transactionId"])
    assert tx["usd"]["value"] == "0.25" and tx["usd"]["price"] == "1"
    assert tx["usd"]["source"] == "pyth"


async def test_a_payment_over_a_dollar_ceiling_waits_for_the_owner(world: World):
    world.allow_shop(usd={"instantMax": "0.10"})
    held = await world.pay(idempotencyKey="usd-held-1")
    assert held.status_code == 202, held.text
    payment = held.json()["payment"]
    assert payment["status"] == "PENDING_APPROVAL"
    assert record(world, payment["transactionId"])["tierReason"] == "usd: worth $0.25"


async def test_payments_and_sends_share_one_dollar_daily_limit(world: World):
    world.allow_shop(usd={"dailyLimit": "0.60"})
    first = await world.pay(path="/report?n=1", idempotencyKey="usd-day-1")
    second = await world.pay(path="/report?n=2", idempotencyKey="usd-day-2")
    assert (first.status_code, second.status_code) == (201, 201), second.text
    # $0.50 spent: a send of 0.002 SOL ($0.20) would pass $0.60.
    send = await world.agent.post(
        "/v1/transactions/send",
        json={"to": world.merchant["address"], "amount": "2000000"},
    )
    assert send.status_code == 202, send.text
    assert send.json()["tierReason"] == "usd.dailyLimit"
