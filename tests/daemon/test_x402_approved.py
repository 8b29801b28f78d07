"""An x402 payment the owner approved (APPROVED) is withdrawn like a waiting send: the
agent's cancel, a revocation / termination / mcp replacement, and an expiry on the
injected clock; and the local JSON-RPC lands a payment under its payer's lock.

In-process daemon (injected clock, the scheduler driven by hand) with the loopback
resource server + facilitator of ``x402_fakes`` (its JSON-RPC calls go in-process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from tests.daemon.conftest import MASTER, Harness
from tests.daemon.x402_fakes import Shop, running_shop
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.domain import transactions
from waiaas_daemon.domain.scheduler import Scheduler
from waiaas_daemon.serving.app import create_app

pytestmark = [pytest.mark.anyio]

USDC = 10**6
SOL = 10**9
PRICE = 250_000
TIMEOUT = 600  # the policy's approvalTimeout: also how long an approval lasts


@dataclass
class World:
    harness: Harness
    shop: Shop
    wallet: dict[str, Any]
    session: dict[str, Any]
    agent: dict[str, str]
    mint: str

    async def pay(self, path: str = "/report") -> httpx.Response:
        answer = await self.harness.http.post(
            "/v1/x402/pay", json={"url": self.shop.url + path}, headers=self.agent
        )
        assert answer.status_code != 500, answer.text
        return answer

    async def approved(self) -> str:
        """A payment for /report the owner approved: its id."""
        return await self.approve(await self.waiting())

    async def waiting(self) -> str:
        waiting = await self.pay()
        assert waiting.status_code == 202, waiting.text
        return str(waiting.json()["payment"]["transactionId"])

    async def approve(self, tx_id: str) -> str:
        answer = await self.harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "APPROVED"
        return str(tx_id)

    async def status(self, tx_id: str) -> str:
        record = await self.harness.state.db.get_transaction(tx_id)
        assert record is not None
        return record.status

    async def counted_today(self) -> int:
        state = self.harness.state
        inputs = await state.db.send_inputs(
            self.wallet["id"], self.session["id"], state.now(), mint=self.mint
        )
        return transactions.totals_of(inputs).daily

    async def audited(self, action: str, tx_id: str) -> bool:
        http = self.harness.http
        listed = await http.get("/v1/audit", params={"action": action}, headers=MASTER)
        assert listed.status_code == 200, listed.text
        assert (await http.get("/v1/audit/verify", headers=MASTER)).json()["ok"]
        return any(e["transactionId"] == tx_id for e in listed.json()["items"])


async def _airdrop(harness: Harness, wallet_id: str, amount: int, token: str | None = None):
    body = {"amount": str(amount), **({"token": token} if token else {})}
    answer = await harness.http.post(f"/v1/wallets/{wallet_id}/airdrop", json=body, headers=MASTER)
    assert answer.status_code == 201, answer.text


async def _world(harness: Harness, label: str | None = None) -> World:
    wallet = await harness.wallet("agent")
    merchant = await harness.wallet("merchant")
    await _airdrop(harness, wallet["id"], SOL)
    await _airdrop(harness, wallet["id"], 10 * USDC, "USDC")
    await _airdrop(harness, merchant["id"], 1, "USDC")  # its token account exists
    tokens = (await harness.http.get("/v1/tokens", headers=MASTER)).json()["items"]
    mint = next(t["mint"] for t in tokens if t["symbol"] == "USDC")
    session = await harness.session(wallet["id"], **({"label": label} if label else {}))
    shop = Shop("http://127.0.0.1/v1/local-rpc", mint, merchant["address"], PRICE)
    return World(harness, shop, wallet, session, _bearer(session), mint)


def _bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


@pytest.fixture
async def world(harness: Harness) -> AsyncIterator[World]:
    async with _running(harness) as made:
        yield made


class _running:
    """The world with its shop served; the policy asks the owner for every payment."""

    def __init__(self, harness: Harness, label: str | None = None) -> None:
        self.harness = harness
        self.label = label

    async def __aenter__(self) -> World:
        made = await _world(self.harness, self.label)
        transport = httpx.ASGITransport(app=create_app(self.harness.state))
        made.shop.http = httpx.AsyncClient(transport=transport, timeout=10)
        self._shop = running_shop(made.shop)
        await self._shop.__aenter__()
        policy = {
            "x402": {"allowedHosts": [made.shop.url.removeprefix("http://")]},
            "approvalTimeout": TIMEOUT,
            "tokens": {made.mint: {"instantMax": "1000", "notifyMax": "1000", "delayMax": "1000"}},
        }
        answer = await self.harness.http.put(
            f"/v1/wallets/{made.wallet['id']}/policy", json=policy, headers=MASTER
        )
        assert answer.status_code == 200, answer.text
        return made

    async def __aexit__(self, *exc: object) -> None:
        await self._shop.__aexit__(None, None, None)


async def _never(seconds: float) -> None:
    await anyio.sleep_forever()


async def test_an_approved_payment_expires_after_the_approval_timeout(world: World):
    tx_id = await world.waiting()
    woken: list[bool] = []
    world.harness.state.waiting_changed = lambda: woken.append(True)
    await world.approve(tx_id)
    assert woken  # the scheduler task learns the new deadline at once
    assert await world.counted_today() == PRICE  # approved, not paid: it still counts
    record = await world.harness.state.db.get_transaction(tx_id)
    assert record is not None
    assert record.approval_expires_at == int(world.harness.clock()) + TIMEOUT
    assert await world.harness.state.db.next_due() == record.approval_expires_at
    runner = Scheduler(world.harness.state, sleep=_never)
    world.harness.clock.advance(TIMEOUT - 1)
    assert await runner.run_due() == 0
    assert await world.status(tx_id) == "APPROVED"
    world.harness.clock.advance(1)
    assert await runner.run_due() == 1
    assert await world.status(tx_id) == "EXPIRED"
    assert await world.audited("send.expired", tx_id)
    assert await world.counted_today() == 0
    # The next call for the URL asks the owner again; nothing was paid.
    again = await world.pay()
    assert again.status_code == 202, again.text
    assert again.json()["payment"]["transactionId"] != tx_id
    assert world.shop.paid_requests == 0


async def test_an_approval_that_ran_out_is_not_paid_even_before_the_scheduler_ran(world: World):
    tx_id = await world.approved()
    world.harness.clock.advance(TIMEOUT)
    again = await world.pay()
    assert again.status_code == 202, again.text
    assert again.json()["payment"]["status"] == "PENDING_APPROVAL"
    assert again.json()["payment"]["transactionId"] != tx_id
    assert await world.status(tx_id) == "EXPIRED"
    assert world.shop.paid_requests == 0


async def test_the_agent_cancels_an_approved_payment(world: World):
    tx_id = await world.approved()
    answer = await world.harness.http.post(f"/v1/transactions/{tx_id}/cancel", headers=world.agent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "CANCELLED"
    assert await world.audited("send.cancelled", tx_id)
    assert await world.counted_today() == 0
    again = await world.pay()
    assert again.status_code == 202, again.text
    assert again.json()["payment"]["transactionId"] != tx_id
    assert world.shop.paid_requests == 0
    # A second cancel: nothing left to withdraw.
    twice = await world.harness.http.post(f"/v1/transactions/{tx_id}/cancel", headers=world.agent)
    assert twice.status_code == 409, twice.text


async def test_the_owner_rejects_an_approved_payment_before_it_is_paid(world: World):
    tx_id = await world.approved()
    path = f"/v1/pending/{tx_id}/reject"
    answer = await world.harness.http.post(path, headers=MASTER, json={"reason": "changed my mind"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "REJECTED"
    assert await world.audited("pending.reject", tx_id)
    assert await world.counted_today() == 0
    # The agent's next call is a new request for the owner, not a payment.
    again = await world.pay()
    assert again.status_code == 202, again.text
    assert again.json()["payment"]["transactionId"] != tx_id
    assert world.shop.paid_requests == 0
    twice = await world.harness.http.post(path, headers=MASTER, json={})
    assert twice.status_code == 409, twice.text


@pytest.mark.parametrize("how", ["revoke", "terminate", "replace"])
async def test_withdrawing_the_session_cancels_its_approved_payment(harness: Harness, how: str):
    async with _running(harness, label="mcp" if how == "replace" else None) as world:
        tx_id = await world.approved()
        wallet_id = world.wallet["id"]
        if how == "revoke":
            path = f"/v1/sessions/{world.session['id']}"
            assert (await harness.http.delete(path, headers=MASTER)).is_success
        elif how == "terminate":
            path = f"/v1/wallets/{wallet_id}"
            assert (await harness.http.delete(path, headers=MASTER)).is_success
        else:
            await harness.session(wallet_id, label="mcp")
        record = await harness.state.db.get_transaction(tx_id)
        assert record is not None
        assert (record.status, record.reason) == ("CANCELLED", "the session was revoked")
        assert await world.audited("send.cancelled", tx_id)
        assert await harness.state.db.next_due() is None
        assert world.shop.paid_requests == 0


async def test_the_local_rpc_lands_a_payment_under_its_payers_lock(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """A facilitator's sendTransaction and the payer's own sends save ledger accounts
    one at a time: the payer's wallet lock is held while the payment lands."""
    state = world.harness.state
    chain = state.chains["local"]
    assert isinstance(chain, LocalChain)
    held: list[bool] = []
    landing = chain.submit_raw

    async def watched(raw: bytes) -> Any:
        lock = state.db._wallet_locks.get(world.wallet["id"])  # type: ignore[attr-defined]
        held.append(lock is not None and lock.locked())
        return await landing(raw)

    monkeypatch.setattr(chain, "submit_raw", watched)
    tx_id = await world.approved()
    paid = await world.pay()
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment"]["transactionId"] == tx_id
    assert held == [True]
