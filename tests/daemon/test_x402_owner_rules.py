"""An x402 payment is made within the owner's rules as they are when it is made, by the
session that asked, and never while the kill switch is on (issue #25, item 3).

In-process daemon (injected clock) with the loopback resource server + facilitator of
``x402_fakes``; the policy asks the owner for every payment (``test_x402_approved``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.daemon.conftest import MASTER, Harness
from tests.daemon.test_x402_approved import PRICE, USDC, World, _bearer, _running
from waiaas_daemon.chain.base import TOKEN_PROGRAM

pytestmark = [pytest.mark.anyio]


@pytest.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    async with _running(harness) as made:
        yield made


async def _pay(world: World, agent: dict[str, str], **body: Any) -> httpx.Response:
    answer = await world.harness.http.post(
        "/v1/x402/pay", json={"url": world.shop.url + "/report", **body}, headers=agent
    )
    assert answer.status_code != 500, answer.text
    return answer


async def _approved_with_key(world: World, key: str) -> str:
    waiting = await _pay(world, world.agent, idempotencyKey=key)
    assert waiting.status_code == 202, waiting.text
    return await world.approve(waiting.json()["payment"]["transactionId"])


async def _set_policy(world: World, document: dict[str, Any]) -> None:
    path = f"/v1/wallets/{world.wallet['id']}/policy"
    answer = await world.harness.http.put(path, json=document, headers=MASTER)
    assert answer.status_code == 200, answer.text


async def _kill_switch(world: World, on: bool) -> None:
    http = world.harness.http
    if on:
        answer = await http.post("/v1/admin/kill-switch", json={}, headers=MASTER)
    else:
        answer = await http.delete("/v1/admin/kill-switch", headers=MASTER)
    assert answer.status_code == 200, answer.text


async def _usdc(world: World) -> int:
    state = world.harness.state
    chain = state.chain_for("local")
    return await chain.token_balance(world.wallet["address"], world.mint, TOKEN_PROGRAM)


# -- the rules in force when the payment is made ---------------------------------


@pytest.mark.parametrize("change", ["host removed", "x402 rules removed"])
async def test_an_approved_payment_is_not_paid_through_its_key_after_the_owner_withdrew_the_host(
    world: World, change: str
):
    tx_id = await _approved_with_key(world, "approved-key-1")
    unpaid = world.shop.unpaid_requests
    x402 = {"allowedHosts": ["api.example.com"]} if change == "host removed" else None
    await _set_policy(world, {"approvalTimeout": 600, **({"x402": x402} if x402 else {})})
    answer = await _pay(world, world.agent, idempotencyKey="approved-key-1")
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "POLICY_DENIED"
    assert "x402.allowedHosts" in answer.json()["message"]
    # Not even asked: the host is not one the owner allows any more.
    assert world.shop.unpaid_requests == unpaid and world.shop.paid_requests == 0
    assert await world.status(tx_id) == "APPROVED"
    assert await _usdc(world) == 10 * USDC


async def test_an_approved_payment_is_checked_against_the_rules_changed_during_its_fetch(
    world: World,
):
    """The owner lowers the ceiling while the resource answers the second 402: the claim
    made after that fetch reads the rules again and the payment is refused, still APPROVED."""
    tx_id = await _approved_with_key(world, "approved-key-2")
    host = world.shop.url.removeprefix("http://")
    lowered = {"x402": {"allowedHosts": [host], "maxPerRequest": {world.mint: "1000"}}}
    world.shop.on_unpaid = lambda: _set_policy(world, {"approvalTimeout": 600, **lowered})
    answer = await _pay(world, world.agent, idempotencyKey="approved-key-2")
    assert answer.status_code == 403, answer.text
    assert "x402.maxPerRequest" in answer.json()["message"]
    assert world.shop.paid_requests == 0
    assert await world.status(tx_id) == "APPROVED"


# -- an approval and a record belong to the session that asked --------------------


async def test_another_session_of_the_wallet_cannot_cash_an_approval(world: World):
    tx_id = await _approved_with_key(world, "session-one-key")
    capped = {"tokens": {world.mint: {"maxAmountPerTx": "1000"}}}
    other = _bearer(await world.harness.session(world.wallet["id"], constraints=capped))
    # The same URL: this session's own decision (over its own cap), not the other's yes.
    answer = await _pay(world, other)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "CONSTRAINT_VIOLATED"
    # The other session's key: refused, without the record.
    keyed = await _pay(world, other, idempotencyKey="session-one-key")
    assert keyed.status_code == 409, keyed.text
    assert keyed.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert tx_id not in keyed.text
    assert world.shop.paid_requests == 0
    assert await world.status(tx_id) == "APPROVED"
    # The session that asked still pays it.
    paid = await _pay(world, world.agent, idempotencyKey="session-one-key")
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment"]["transactionId"] == tx_id


async def test_another_session_cannot_read_a_payment_record_through_its_key(world: World):
    tx_id = await _approved_with_key(world, "read-me-key-1")
    paid = await _pay(world, world.agent, idempotencyKey="read-me-key-1")
    assert paid.status_code == 201, paid.text
    other = _bearer(await world.harness.session(world.wallet["id"]))
    answer = await _pay(world, other, idempotencyKey="read-me-key-1")
    assert answer.status_code == 409, answer.text
    assert answer.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert tx_id not in answer.text and world.shop.pay_to not in answer.text
    assert world.shop.paid_requests == 1


async def test_a_held_payment_of_another_session_is_not_this_sessions_answer(world: World):
    waiting = await _pay(world, world.agent)
    assert waiting.status_code == 202, waiting.text
    tx_id = waiting.json()["payment"]["transactionId"]
    other = _bearer(await world.harness.session(world.wallet["id"]))
    own = await _pay(world, other)
    assert own.status_code == 202, own.text
    assert own.json()["payment"]["transactionId"] != tx_id


# -- the kill switch -----------------------------------------------------------------


async def test_with_the_kill_switch_on_nothing_is_fetched(world: World):
    await _kill_switch(world, True)
    answer = await _pay(world, world.agent)
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "KILL_SWITCH_ACTIVE"
    assert world.shop.unpaid_requests == world.shop.paid_requests == 0


async def test_an_approval_met_during_the_kill_switch_waits_and_is_paid_after_it(world: World):
    tx_id = await _approved_with_key(world, "kill-switch-key")
    unpaid = world.shop.unpaid_requests
    await _kill_switch(world, True)
    for call in ({"idempotencyKey": "kill-switch-key"}, {}):
        answer = await _pay(world, world.agent, **call)
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "KILL_SWITCH_ACTIVE"
    assert world.shop.unpaid_requests == unpaid and world.shop.paid_requests == 0
    assert await world.status(tx_id) == "APPROVED"
    await _kill_switch(world, False)
    paid = await _pay(world, world.agent, idempotencyKey="kill-switch-key")
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment"]["transactionId"] == tx_id
    assert await _usdc(world) == 10 * USDC - PRICE


async def test_a_kill_switch_turned_on_during_the_fetch_leaves_the_approval_waiting(
    world: World,
):
    """Between the resource's second 402 and the signature: the gate refuses, the record
    goes back to APPROVED instead of being used up."""
    tx_id = await _approved_with_key(world, "kill-switch-key-2")
    world.shop.on_unpaid = lambda: _kill_switch(world, True)
    answer = await _pay(world, world.agent, idempotencyKey="kill-switch-key-2")
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "KILL_SWITCH_ACTIVE"
    assert world.shop.paid_requests == 0
    assert await world.status(tx_id) == "APPROVED"
