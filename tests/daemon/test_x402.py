"""x402 payments against a real `waiaas-daemon serve` and a loopback resource server +
facilitator that settle on the daemon's local chain (tests/daemon/x402_fakes.py)."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

from tests.daemon.x402_fakes import Shop, running_shop
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon

pytestmark = [pytest.mark.anyio]

USDC = 10**6
SOL = 10**9
PRICE = 250_000  # 0.25 USDC


@dataclass
class World:
    daemon: Daemon
    shop: Shop
    wallet: dict[str, Any]
    merchant: dict[str, Any]
    agent: httpx.AsyncClient
    mint: str

    def policy(self, document: dict[str, Any]) -> None:
        answer = self.daemon.api("PUT", f"/v1/wallets/{self.wallet['id']}/policy", json=document)
        assert answer.status_code == 200, answer.text

    def allow_shop(self, **more: Any) -> None:
        host = self.shop.url.removeprefix("http://")
        self.policy({"x402": {"allowedHosts": [host]}, **more})

    async def pay(self, path: str = "/report", **body: Any) -> httpx.Response:
        answer = await self.agent.post("/v1/x402/pay", json={"url": self.shop.url + path, **body})
        assert answer.status_code != 500, self.daemon.log
        return answer

    async def usdc(self, wallet: dict[str, Any]) -> int:
        token = self.daemon.create_session(wallet["id"])["token"]
        async with httpx.AsyncClient(
            base_url=self.daemon.base_url, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            items = (await http.get("/v1/wallet/assets")).json()["items"]
        return sum(int(i["amount"]) for i in items if i["mint"] == self.mint)

    async def sol(self) -> int:
        return int((await self.agent.get("/v1/wallet/balance")).json()["balance"])


def _airdrop(daemon: Daemon, wallet_id: str, amount: int, token: str | None = None) -> None:
    body = {"amount": str(amount), **({"token": token} if token else {})}
    answer = daemon.api("POST", f"/v1/wallets/{wallet_id}/airdrop", json=body)
    assert answer.status_code == 201, answer.text


@pytest.fixture
async def world(daemon: Daemon) -> AsyncIterator[World]:
    async with _world(daemon) as made:
        yield made


class _world:
    # Wallet names are unique among live wallets: a daemon's second world names its own.
    _made: dict[int, int] = {}

    def __init__(self, daemon: Daemon, session: dict[str, Any] | None = None) -> None:
        self.daemon = daemon
        self.session = session or {}

    async def __aenter__(self) -> World:
        daemon = self.daemon
        made = _world._made[id(daemon)] = _world._made.get(id(daemon), 0) + 1
        suffix = "" if made == 1 else f"-{made}"
        wallet = daemon.create_wallet(f"agent{suffix}")
        merchant = daemon.create_wallet(f"merchant{suffix}")
        _airdrop(daemon, wallet["id"], SOL)
        _airdrop(daemon, wallet["id"], 10 * USDC, "USDC")
        _airdrop(daemon, merchant["id"], 1, "USDC")  # its token account exists
        mint = next(
            t["mint"]
            for t in daemon.api("GET", "/v1/tokens").json()["items"]
            if t["symbol"] == "USDC"
        )
        shop = Shop(f"{daemon.base_url}/v1/local-rpc", mint, merchant["address"], PRICE)
        self._shop = running_shop(shop)
        await self._shop.__aenter__()
        token = daemon.create_session(wallet["id"], **self.session)["token"]
        agent = httpx.AsyncClient(
            base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self._agent = agent
        return World(daemon, shop, wallet, merchant, agent, mint)

    async def __aexit__(self, *exc: object) -> None:
        await self._agent.aclose()
        await self._shop.__aexit__(None, None, None)


def _audit_actions(daemon: Daemon, wallet_id: str) -> list[str]:
    answer = daemon.api("GET", "/v1/audit", params={"walletId": wallet_id, "limit": 100})
    return [entry["action"] for entry in answer.json()["items"]]


async def test_a_paid_request_moves_exactly_the_price_and_returns_the_resource(world: World):
    world.allow_shop()
    sol_before = await world.sol()
    answer = await world.pay(idempotencyKey="first-payment-1")
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["outcome"] == "PAID"
    assert result["resource"]["status"] == 200
    assert result["resource"]["bodyEncoding"] == "utf-8"
    assert json.loads(result["resource"]["body"]) == {"report": "the numbers", "price": PRICE}
    payment = result["payment"]
    assert payment["status"] == "CONFIRMED"
    assert payment["amount"] == str(PRICE)
    assert payment["payTo"] == world.merchant["address"]
    assert payment["origin"] == world.shop.url
    assert payment["settlement"] == world.shop.settled[0]
    assert payment["network"] == "solana:localnet"
    # The facilitator paid the fee: the wallet's SOL did not move at all.
    assert await world.sol() == sol_before
    assert await world.usdc(world.wallet) == 10 * USDC - PRICE
    assert await world.usdc(world.merchant) == 1 + PRICE
    listed = (await world.agent.get("/v1/transactions")).json()["items"][0]
    assert (listed["type"], listed["status"], listed["origin"]) == (
        "PAYMENT",
        "CONFIRMED",
        world.shop.url,
    )
    assert listed["settlement"] == world.shop.settled[0]
    assert listed["token"]["mint"] == world.mint
    actions = _audit_actions(world.daemon, world.wallet["id"])
    assert "send.allowed" in actions and "send.confirmed" in actions


async def test_a_free_resource_is_returned_without_paying(world: World):
    world.allow_shop()
    answer = await world.pay("/free")
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "FREE"
    assert answer.json()["resource"]["body"] == "free text"
    assert answer.json()["payment"] is None


async def test_a_host_the_owner_did_not_allow_is_refused_before_any_request(world: World):
    answer = await world.pay()
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "POLICY_DENIED"
    assert "x402.allowedHosts" in answer.json()["message"]
    assert world.shop.unpaid_requests == world.shop.paid_requests == 0
    assert "send.denied" in _audit_actions(world.daemon, world.wallet["id"])


async def test_a_price_above_the_owners_ceiling_is_refused_before_signing(world: World):
    world.allow_shop()
    host = world.shop.url.removeprefix("http://")
    world.policy({"x402": {"allowedHosts": [host], "maxPerRequest": {world.mint: "100000"}}})
    answer = await world.pay()
    assert answer.status_code == 403, answer.text
    assert "x402.maxPerRequest" in answer.json()["message"]
    assert world.shop.paid_requests == 0
    assert await world.usdc(world.wallet) == 10 * USDC


async def test_a_price_above_the_callers_max_amount_is_refused(world: World):
    world.allow_shop()
    world.shop.advertised = 5 * USDC  # the 402 asks far more than the agent expected
    answer = await world.pay(maxAmount=str(USDC))
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "CONSTRAINT_VIOLATED"
    assert "maxAmount" in answer.json()["message"]
    assert world.shop.paid_requests == 0


async def test_the_wallet_policy_per_token_limits_apply_to_payments(world: World):
    world.allow_shop(tokens={world.mint: {"dailyLimit": str(PRICE)}})
    first = await world.pay(idempotencyKey="limit-one-1")
    assert first.status_code == 201, first.text
    second = await world.pay(idempotencyKey="limit-two-2")
    # Over the daily limit: the owner must approve, as for a send.
    assert second.status_code == 202, second.text
    assert second.json()["payment"]["status"] == "PENDING_APPROVAL"
    assert len(world.shop.settled) == 1


async def test_session_constraints_apply_to_payments(daemon: Daemon):
    async with _world(daemon) as probe:
        mint = probe.mint
    constraints = {"tokens": {mint: {"maxAmountPerTx": "1000"}}}
    async with _world(daemon, {"constraints": constraints}) as world:
        world.allow_shop()
        answer = await world.pay()
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "CONSTRAINT_VIOLATED"
        assert world.shop.paid_requests == 0


async def test_an_approval_tier_payment_waits_for_the_owner_then_the_retry_pays(world: World):
    world.allow_shop(tokens={world.mint: {"instantMax": "1000"}})
    waiting = await world.pay(idempotencyKey="approval-key-1")
    assert waiting.status_code == 202, waiting.text
    payment = waiting.json()["payment"]
    assert (waiting.json()["outcome"], payment["status"]) == ("WAITING", "PENDING_APPROVAL")
    assert world.shop.paid_requests == 0
    pending = world.daemon.api("GET", "/v1/pending").json()["items"]
    assert [(p["id"], p["type"]) for p in pending] == [(payment["transactionId"], "PAYMENT")]
    again = await world.pay(idempotencyKey="approval-key-1")
    assert again.status_code == 202 and world.shop.paid_requests == 0
    other_key = await world.pay(idempotencyKey="approval-key-2")
    assert other_key.status_code == 202, other_key.text
    assert other_key.json()["payment"]["transactionId"] == payment["transactionId"]
    approved = world.daemon.api("POST", f"/v1/pending/{payment['transactionId']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "APPROVED"
    # The next call for that URL pays it, whatever its key (the MCP tool makes a new one).
    paid = await world.pay()
    assert paid.status_code == 201, paid.text
    assert paid.json()["payment"]["transactionId"] == payment["transactionId"]
    assert paid.json()["payment"]["status"] == "CONFIRMED"
    assert await world.usdc(world.merchant) == 1 + PRICE


async def test_a_retry_with_the_same_key_returns_the_record_and_never_pays_twice(world: World):
    world.allow_shop()
    first = await world.pay(idempotencyKey="retry-key-123")
    assert first.status_code == 201, first.text
    second = await world.pay(idempotencyKey="retry-key-123")
    assert second.status_code == 200, second.text
    assert second.json()["outcome"] == "RECORDED"
    assert second.json()["payment"]["transactionId"] == first.json()["payment"]["transactionId"]
    assert len(world.shop.settled) == 1 and world.shop.paid_requests == 1
    assert await world.usdc(world.wallet) == 10 * USDC - PRICE
    other = await world.agent.post(
        "/v1/x402/pay",
        json={"url": world.shop.url + "/free"},
        headers={"Idempotency-Key": "retry-key-123"},
    )
    assert other.status_code == 409 and other.json()["code"] == "IDEMPOTENCY_CONFLICT"


async def test_concurrent_calls_with_one_key_pay_once(world: World):
    world.allow_shop()
    answers: list[httpx.Response] = []

    async def one() -> None:
        answers.append(await world.pay(idempotencyKey="parallel-key-1"))

    async with anyio.create_task_group() as group:
        for _ in range(4):
            group.start_soon(one)
    assert sorted(a.status_code for a in answers)[-1] in (200, 201)
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len(world.shop.settled) == 1
    assert await world.usdc(world.wallet) == 10 * USDC - PRICE


@pytest.mark.parametrize(
    ("behaviour", "words", "paid"),
    [
        ("again-402", "402 again", 1),
        ("claim-without-settling", "no settlement", 0),
        ("redirect", "another origin", 1),
        ("huge", "over 262144 bytes", 1),
    ],
)
async def test_a_hostile_resource_gets_a_clear_error_and_at_most_one_payment(
    world: World, behaviour: str, words: str, paid: int
):
    world.allow_shop()
    world.shop.behaviour = behaviour
    answer = await world.pay(idempotencyKey=f"hostile-{behaviour}")
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "PAYMENT_FAILED"
    assert words in answer.json()["message"]
    assert await world.usdc(world.wallet) == 10 * USDC - paid * PRICE
    again = await world.pay(idempotencyKey=f"hostile-{behaviour}")
    assert again.status_code == 200 and again.json()["outcome"] == "RECORDED"
    assert await world.usdc(world.wallet) == 10 * USDC - paid * PRICE
    expected = "CONFIRMED" if paid else "SUBMITTED"
    assert again.json()["payment"]["status"] == expected


async def test_a_slow_resource_times_out_with_the_payment_recorded(world: World):
    world.allow_shop()
    world.shop.behaviour = "hang"
    answer = await world.pay(idempotencyKey="slow-key-1", timeoutSeconds=0.5)
    assert answer.status_code == 502, answer.text
    assert "did not answer within 0.5 s" in answer.json()["message"]
    assert "settled on chain" in answer.json()["message"]
    assert await world.usdc(world.wallet) == 10 * USDC - PRICE


@pytest.mark.parametrize("settles", [True, False])
async def test_a_sigkill_while_the_resource_holds_the_payment_never_pays_twice(
    tmp_path, settles: bool
):
    data = tmp_path / "data"
    daemon = start_daemon(data, config={"security": FAST_SECURITY})
    try:
        async with _world(daemon) as world:
            world.allow_shop()
            world.shop.behaviour = "hang" if settles else "hang-before-settling"

            async def pay() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the daemon dies under it
                    await world.pay(idempotencyKey="crash-key-1")

            async with anyio.create_task_group() as group:
                group.start_soon(pay)
                with anyio.fail_after(20):
                    await world.shop.holding.wait()
                daemon.process.send_signal(signal.SIGKILL)
            daemon.process.wait(15)
            daemon.close()
            daemon = start_daemon(data, config={"security": FAST_SECURITY})
            world.daemon = daemon
            world.shop.rpc_url = f"{daemon.base_url}/v1/local-rpc"
            world.agent.base_url = httpx.URL(daemon.base_url)
            world.shop.release.set()  # a late settlement of the old transaction fails now
            again = await world.pay(idempotencyKey="crash-key-1")
            assert again.status_code == 200, again.text
            assert again.json()["outcome"] == "RECORDED"
            status = again.json()["payment"]["status"]
            assert status == ("CONFIRMED" if settles else "FAILED")
            paid = PRICE if settles else 0
            assert await world.usdc(world.wallet) == 10 * USDC - paid
            assert await world.usdc(world.merchant) == 1 + paid
    finally:
        daemon.kill()
        daemon.close()


async def test_the_local_rpc_serves_only_what_a_facilitator_needs(world: World):
    async with httpx.AsyncClient(base_url=world.daemon.base_url) as http:
        unknown = await http.post(
            "/v1/local-rpc", json={"jsonrpc": "2.0", "id": 1, "method": "getProgramAccounts"}
        )
        assert unknown.json()["error"]["code"] == -32601
        unsigned = await http.post(
            "/v1/local-rpc",
            json={"jsonrpc": "2.0", "id": 2, "method": "sendTransaction", "params": ["AAAA"]},
        )
        assert "error" in unsigned.json()
        balance = await http.post(
            "/v1/local-rpc",
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "getBalance",
                "params": [world.wallet["address"]],
            },
        )
        assert balance.json()["result"]["value"] == SOL


async def test_the_v1_wire_format_pays_too(world: World):
    world.allow_shop()
    answer = await world.pay("/v1/report", idempotencyKey="version-one-1")
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["network"] == "solana-localnet"
    assert answer.json()["payment"]["settlement"] == world.shop.settled[0]
    assert await world.usdc(world.merchant) == 1 + PRICE


async def test_a_notify_tier_payment_is_paid_and_audited_with_its_tier(world: World):
    world.allow_shop(tokens={world.mint: {"instantMax": "1", "notifyMax": str(USDC)}})
    answer = await world.pay(idempotencyKey="notify-tier-1")
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["tier"] == "NOTIFY"
    entries = world.daemon.api(
        "GET", "/v1/audit", params={"walletId": world.wallet["id"], "action": "send.allowed"}
    ).json()["items"]
    assert entries[0]["details"]["tier"] == "NOTIFY"
    assert entries[0]["details"]["kind"] == "payment"
    assert entries[0]["details"]["origin"] == world.shop.url


async def test_the_kill_switch_stops_a_payment_before_signing(world: World):
    world.allow_shop()
    assert world.daemon.api("POST", "/v1/admin/kill-switch", json={}).status_code == 200
    answer = await world.pay()
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "KILL_SWITCH_ACTIVE"
    assert world.shop.paid_requests == 0


async def test_a_resource_that_raises_its_price_after_approval_is_not_paid(world: World):
    world.allow_shop(tokens={world.mint: {"instantMax": "1000"}})
    waiting = await world.pay()
    assert waiting.status_code == 202, waiting.text
    tx_id = waiting.json()["payment"]["transactionId"]
    assert world.daemon.api("POST", f"/v1/pending/{tx_id}/approve").status_code == 200
    world.shop.advertised = 2 * PRICE  # the 402 now asks more than the owner approved
    lied = await world.pay()
    assert lied.status_code == 502, lied.text
    assert "not the payment the owner approved" in lied.json()["message"]
    assert world.shop.paid_requests == 0
    assert await world.usdc(world.wallet) == 10 * USDC


# -- what counts toward auto-suspension (issue 29 item 4; docs/notes/x402.md) ----------


def _wallet_status(world: World) -> dict[str, Any]:
    answer = world.daemon.api("GET", f"/v1/wallets/{world.wallet['id']}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_prices_above_the_ceiling_are_the_resources_answer_and_never_suspend(world: World):
    host = world.shop.url.removeprefix("http://")
    world.policy({"x402": {"allowedHosts": [host], "maxPerRequest": {world.mint: "100000"}}})
    for _ in range(11):  # above the default autoSuspendAfterDenials (10)
        answer = await world.pay()
        assert answer.status_code == 403, answer.text
        assert "x402.maxPerRequest" in answer.json()["message"]
    assert _wallet_status(world)["status"] == "ACTIVE"
    denied = world.daemon.api(
        "GET", "/v1/audit", params={"walletId": world.wallet["id"], "action": "send.denied"}
    ).json()["items"]
    assert len(denied) == 11 and all(e["details"]["counted"] is False for e in denied)
    # The owner's ceiling still holds, and the wallet still pays what is within it.
    world.policy({"x402": {"allowedHosts": [host]}})
    assert (await world.pay(idempotencyKey="after-the-refusals")).status_code == 201


async def test_resume_starts_the_count_afresh_and_the_agent_is_told_who_suspended(world: World):
    world.policy({"autoSuspendAfterDenials": 3})  # no host allowed: the agent's own mistake
    for _ in range(3):
        assert (await world.pay()).json()["code"] == "POLICY_DENIED"
    assert _wallet_status(world)["status"] == "SUSPENDED"
    send = {"to": world.merchant["address"], "amount": "1000000"}
    refused = (await world.agent.post("/v1/transactions/send", json=send)).json()
    assert refused["code"] == "WALLET_SUSPENDED"
    assert "automatically after 3 denied requests" in refused["message"]
    assert "owner" not in refused["message"].split("not by")[0]
    resumed = world.daemon.api("POST", f"/v1/wallets/{world.wallet['id']}/resume")
    assert resumed.status_code == 200, resumed.text
    # One more denial after the resume does not suspend again: the count started afresh.
    assert (await world.pay()).json()["code"] == "POLICY_DENIED"
    assert _wallet_status(world)["status"] == "ACTIVE"
    for _ in range(2):
        await world.pay()
    assert _wallet_status(world)["status"] == "SUSPENDED"  # three since the resume
    world.daemon.api("POST", f"/v1/wallets/{world.wallet['id']}/resume")
    suspended = world.daemon.api(
        "POST", f"/v1/wallets/{world.wallet['id']}/suspend", json={"reason": "holiday"}
    )
    assert suspended.status_code == 200, suspended.text
    refused = (await world.agent.post("/v1/transactions/send", json=send)).json()
    assert refused["message"] == "The wallet is suspended by its owner: holiday"
