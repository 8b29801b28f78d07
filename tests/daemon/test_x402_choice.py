"""A resource that offers several ways to pay is paid with exactly one, chosen in the
documented order (issue #25, item 2): what the wallet pays on (its chain and network, a
token it pays with, a balance that covers it), the owner's preferredNetworks first.

In-process daemon, the loopback resource server + facilitator of ``x402_fakes`` whose 402
lists other offers before its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.daemon.conftest import MASTER, Harness
from tests.daemon.test_x402_approved import PRICE, USDC, World, _running
from tests.daemon.test_x402_wire import BASE_USDC
from waiaas_daemon.chain.base import TOKEN_PROGRAM

pytestmark = [pytest.mark.anyio]

DEVNET_USDC = {
    **BASE_USDC,
    "network": "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
    "asset": "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU",
    "payTo": "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin",
}


@pytest.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    async with _running(harness) as made:
        host = made.shop.url.removeprefix("http://")
        path = f"/v1/wallets/{made.wallet['id']}/policy"
        put = await harness.http.put(path, json={"x402": {"allowedHosts": [host]}}, headers=MASTER)
        assert put.status_code == 200, put.text
        yield made


def _local(world: World, **changes: Any) -> dict[str, Any]:
    """Another offer on the local chain, settled by the same facilitator."""
    return {**world.shop.requirements(2), **changes}


async def _pay(world: World) -> httpx.Response:
    answer = await world.harness.http.post(
        "/v1/x402/pay",
        json={"url": world.shop.url + "/report", "idempotencyKey": "choice-key-1"},
        headers=world.agent,
    )
    assert answer.status_code != 500, answer.text
    return answer


async def _usdc(world: World) -> int:
    chain = world.harness.state.chain_for("local")
    return await chain.token_balance(world.wallet["address"], world.mint, TOKEN_PROGRAM)


async def test_base_and_devnet_offers_are_skipped_and_the_local_one_is_paid_once(world: World):
    world.shop.other_offers = [BASE_USDC, DEVNET_USDC]
    answer = await _pay(world)
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["network"] == "solana:localnet"
    assert len(world.shop.settled) == 1 and world.shop.paid_requests == 1
    assert await _usdc(world) == 10 * USDC - PRICE


async def test_an_offer_in_a_token_the_wallet_does_not_pay_with_is_passed_over(world: World):
    unknown_mint = "So11111111111111111111111111111111111111112"
    world.shop.other_offers = [_local(world, asset=unknown_mint)]
    answer = await _pay(world)
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["token"]["mint"] == world.mint
    assert len(world.shop.settled) == 1


async def test_an_offer_the_balance_cannot_cover_is_passed_over_for_one_it_can(world: World):
    world.shop.other_offers = [_local(world, amount=str(20 * USDC))]
    answer = await _pay(world)
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["amount"] == str(PRICE)
    assert len(world.shop.settled) == 1
    assert await _usdc(world) == 10 * USDC - PRICE


async def test_no_offer_the_balance_covers_is_insufficient_balance_and_nothing_is_paid(
    world: World,
):
    world.shop.other_offers = [BASE_USDC, _local(world, amount=str(20 * USDC))]
    world.shop.advertised = 30 * USDC
    answer = await _pay(world)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "INSUFFICIENT_BALANCE"
    assert world.shop.paid_requests == 0
    assert await _usdc(world) == 10 * USDC


async def test_only_offers_on_other_chains_are_payment_unsupported_saying_why(world: World):
    world.shop.other_offers = [BASE_USDC]
    world.shop.network = "eip155:84532"
    answer = await _pay(world)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "PAYMENT_UNSUPPORTED"
    assert "eip155:8453" in answer.json()["message"]
    assert world.shop.paid_requests == 0
