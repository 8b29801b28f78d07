"""x402 ``exact`` payments on EVM (issue #25, items 1 and 5): an EVM wallet pays a loopback
resource whose facilitator settles ``transferWithAuthorization`` on anvil (posing as
Sepolia) and on the embedded EVM (evm-local), through the same path as a Solana payment:
the owner's rules and tiers, idempotency keys, exactly once, and an unknown settlement
resolved from the chain with ``authorizationState(from, nonce)``.

In-process daemon; the resource server + facilitator of ``x402_evm_fakes``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest
from eth_account import Account

from tests.daemon.conftest import MASTER, Harness
from tests.daemon.x402_evm_fakes import EvmShop, running_evm_shop
from tests.support import evm
from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode

pytestmark = [pytest.mark.anyio]

USDC = 10**6
PRICE = 250_000
NODES = ["anvil", "embedded"]


@dataclass
class World:
    harness: Harness
    shop: EvmShop
    wallet: dict[str, Any]
    agent: dict[str, str]
    usdc: str
    anvil: Any = None

    async def pay(self, **body: Any) -> httpx.Response:
        answer = await self.harness.http.post(
            "/v1/x402/pay", json={"url": self.shop.url + "/report", **body}, headers=self.agent
        )
        assert answer.status_code != 500, answer.text
        return answer

    async def policy(self, **more: Any) -> None:
        host = self.shop.url.removeprefix("http://")
        document = {"x402": {"allowedHosts": [host]}, **more}
        path = f"/v1/wallets/{self.wallet['id']}/policy"
        answer = await self.harness.http.put(path, json=document, headers=MASTER)
        assert answer.status_code == 200, answer.text

    async def balance(self, owner: str) -> int:
        return await evm.token_balance(self.shop.node, self.usdc, owner)

    async def record(self, tx_id: str) -> Any:
        return await self.harness.state.db.get_transaction(tx_id)


async def _anvil_world(stack: AsyncExitStack, tmp_path: Any) -> World:
    from tests.daemon.evm_support import (
        anvil_node,
        deploy_usdc,
        evm_agent,
        evm_harness,
        evm_settings,
        mint_usdc,
    )

    anvil = stack.enter_context(_generator(anvil_node()))
    harness = await stack.enter_async_context(evm_harness(tmp_path, evm_settings(anvil.url)))
    agent = await evm_agent(harness, anvil)
    usdc = deploy_usdc(anvil)
    added = await harness.http.post(
        "/v1/tokens",
        json={"network": "sepolia", "mint": usdc, "symbol": "TUSDC"},
        headers=MASTER,
    )
    assert added.status_code in (200, 201), added.text
    mint_usdc(anvil, usdc, agent.address, 10 * USDC)
    node = JsonRpcNode([anvil.url])
    stack.push_async_callback(node.aclose)
    key = Account.create().key.hex()
    address = Account.from_key(key).address
    anvil.set_balance(address, 10**19)
    merchant = Account.create().address
    shop = EvmShop(node, anvil.chain_id, usdc, merchant, PRICE, key)
    await stack.enter_async_context(running_evm_shop(shop))
    return World(harness, shop, agent.wallet, agent.headers, usdc, anvil)


async def _embedded_world(stack: AsyncExitStack, tmp_path: Any) -> World:
    from tests.daemon.test_evm_local import USDC as LOCAL_USDC
    from tests.daemon.test_evm_local import _evm_wallet, local_harness

    harness = await stack.enter_async_context(local_harness(tmp_path))
    wallet, headers = await _evm_wallet(harness)  # 2 ETH and 5 USDC
    chain: Any = harness.state.chain_for("evm-local")
    node = chain.node
    key = Account.create().key.hex()
    await node.airdrop(Account.from_key(key).address, 10**19)
    merchant = Account.create().address
    shop = EvmShop(node, await chain.chain_id(), LOCAL_USDC, merchant, PRICE, key)
    await stack.enter_async_context(running_evm_shop(shop))
    return World(harness, shop, wallet, headers, LOCAL_USDC)


class _generator:
    """A generator fixture body as a context manager."""

    def __init__(self, made: Any) -> None:
        self.made = made

    def __enter__(self) -> Any:
        return next(self.made)

    def __exit__(self, *exc: object) -> None:
        for _ in self.made:
            pass


@pytest.fixture(params=NODES)
async def world(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        make = _anvil_world if request.param == "anvil" else _embedded_world
        yield await make(stack, tmp_path)


async def test_an_evm_payment_moves_exactly_the_price_once(world: World):
    await world.policy()
    before = await world.balance(world.wallet["address"])
    answer = await world.pay(idempotencyKey="evm-paid-key-1")
    assert answer.status_code == 201, answer.text
    payment = answer.json()["payment"]
    assert payment["status"] == "CONFIRMED"
    assert payment["network"] == world.shop.network
    assert payment["settlement"] == world.shop.settled[0]
    assert payment["payTo"] == world.shop.pay_to
    assert await world.balance(world.shop.pay_to) == PRICE
    assert await world.balance(world.wallet["address"]) == before - PRICE
    record = await world.record(payment["transactionId"])
    assert record.payment_nonce and len(record.payment_nonce) == 66
    assert record.payment_valid_before is not None
    again = await world.pay(idempotencyKey="evm-paid-key-1")
    assert again.status_code == 200 and again.json()["outcome"] == "RECORDED"
    assert len(world.shop.settled) == 1
    assert await world.balance(world.shop.pay_to) == PRICE


async def test_an_evm_payment_in_the_approval_tier_waits_then_pays(world: World):
    await world.policy(tokens={world.usdc: {"instantMax": "1000"}})
    waiting = await world.pay()
    assert waiting.status_code == 202, waiting.text
    tx_id = waiting.json()["payment"]["transactionId"]
    assert world.shop.paid_requests == 0
    approved = await world.harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"
    paid = await world.pay()
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment"]["transactionId"] == tx_id
    assert await world.balance(world.shop.pay_to) == PRICE


async def test_an_evm_payment_above_the_owners_ceiling_is_refused_before_signing(world: World):
    host = world.shop.url.removeprefix("http://")
    path = f"/v1/wallets/{world.wallet['id']}/policy"
    rules = {"x402": {"allowedHosts": [host], "maxPerRequest": {world.usdc: "1000"}}}
    assert (await world.harness.http.put(path, json=rules, headers=MASTER)).status_code == 200
    answer = await world.pay()
    assert answer.status_code == 403, answer.text
    assert "x402.maxPerRequest" in answer.json()["message"]
    assert world.shop.paid_requests == 0


async def test_a_settlement_the_daemon_did_not_see_is_found_on_chain(world: World):
    """The resource takes the payment and answers too late: the record stays SUBMITTED
    (its authorization can still land); once it has, the next read finds it with
    authorizationState and the token's AuthorizationUsed log, and it is never paid again."""
    await world.policy()
    world.shop.behaviour = "hang-before-settling"

    answer = await world.pay(idempotencyKey="evm-late-key-1", timeoutSeconds=0.5)
    assert answer.status_code == 502, answer.text
    assert "not settled" in answer.json()["message"]
    tx_id = answer.json()["message"].split("transaction ")[1].split(")")[0]
    assert (await world.record(tx_id)).status == "SUBMITTED"
    world.shop.release.set()
    with anyio.fail_after(20):
        while not world.shop.settled:
            await anyio.sleep(0.02)
    again = await world.pay(idempotencyKey="evm-late-key-1")
    assert again.status_code == 200, again.text
    assert again.json()["payment"]["status"] == "CONFIRMED"
    assert again.json()["payment"]["settlement"] == world.shop.settled[0]
    assert await world.balance(world.shop.pay_to) == PRICE


@pytest.mark.parametrize("world", ["anvil"], indirect=True)  # anvil's clock can be moved
async def test_an_authorization_that_expired_unused_is_failed_and_never_paid(world: World):
    assert world.anvil is not None
    await world.policy()
    world.shop.behaviour = "claim-without-settling"
    answer = await world.pay(idempotencyKey="evm-expired-key")
    assert answer.status_code == 502, answer.text
    assert "no settlement" in answer.json()["message"]
    recorded = await world.pay(idempotencyKey="evm-expired-key")
    assert recorded.json()["payment"]["status"] == "SUBMITTED"  # it could still land
    world.anvil.rpc("evm_increaseTime", [3600])
    world.anvil.rpc("evm_mine", [])
    expired = await world.pay(idempotencyKey="evm-expired-key")
    assert expired.json()["payment"]["status"] == "FAILED"
    assert "expired unused" in expired.json()["payment"]["error"]
    assert await world.balance(world.shop.pay_to) == 0


async def test_concurrent_evm_calls_with_one_key_pay_once(world: World):
    await world.policy()
    answers: list[httpx.Response] = []

    async def one() -> None:
        answers.append(await world.pay(idempotencyKey="evm-parallel-key"))

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(one)
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len(world.shop.settled) == 1
    assert await world.balance(world.shop.pay_to) == PRICE


async def test_a_resource_that_answers_402_after_an_evm_payment_is_paid_once(world: World):
    await world.policy()
    world.shop.behaviour = "again-402"
    answer = await world.pay(idempotencyKey="evm-hostile-402")
    assert answer.status_code == 502, answer.text
    assert "402 again" in answer.json()["message"]
    assert "settled on chain" in answer.json()["message"]
    again = await world.pay(idempotencyKey="evm-hostile-402")
    assert again.json()["outcome"] == "RECORDED"
    assert again.json()["payment"]["status"] == "CONFIRMED"
    assert len(world.shop.settled) == 1
    assert await world.balance(world.shop.pay_to) == PRICE
