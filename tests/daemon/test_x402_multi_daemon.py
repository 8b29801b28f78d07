"""x402 payments with two real daemons on one PostgreSQL database, settled on a JSON-RPC
node (the real `waiaas-daemon local-node`, the daemons calling it devnet): the facilitator
of tests/daemon/x402_fakes.py submits to that node. One idempotency key sent to both
daemons at once is one payment; a payment held for the owner, approved through the other
daemon, is paid once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.test_telegram_live import blocking
from tests.daemon.x402_fakes import DEVNET, Shop, running_shop
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from tests.support.local_node import LocalNode, running_local_node

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 10**9
UNITS = 10**6
PRICE = 250_000


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_local_node(tmp_path / "local-node.db") as running:
        yield running


@dataclass
class World:
    a: Daemon
    b: Daemon
    shop: Shop
    mint: str
    wallet: dict[str, Any]
    session: dict[str, Any]

    async def pay(self, daemon: Daemon, **body: Any) -> httpx.Response:
        auth = {"Authorization": f"Bearer {self.session['token']}"}
        async with httpx.AsyncClient(base_url=daemon.base_url, headers=auth, timeout=60) as http:
            answer = await http.post(
                "/v1/x402/pay", json={"url": self.shop.url + "/report", **body}
            )
        assert answer.status_code != 500, daemon.log
        return answer

    async def balance(self, daemon: Daemon) -> int:
        auth = {"Authorization": f"Bearer {self.session['token']}"}
        async with httpx.AsyncClient(base_url=daemon.base_url, headers=auth, timeout=30) as http:
            items = (await http.get("/v1/wallet/assets")).json()["items"]
        return sum(int(i["amount"]) for i in items if i["mint"] == self.mint)

    async def payments(self, daemon: Daemon) -> list[dict[str, Any]]:
        auth = {"Authorization": f"Bearer {self.session['token']}"}
        async with httpx.AsyncClient(base_url=daemon.base_url, headers=auth, timeout=30) as http:
            items = (await http.get("/v1/transactions")).json()["items"]
        return [t for t in items if t["type"] == "PAYMENT"]


@asynccontextmanager
async def world(
    tmp_path: Path, postgres_url: str, node: LocalNode, policy: dict[str, Any]
) -> AsyncIterator[World]:
    """Two daemons on devnet + PostgreSQL, a GOLD token on the node, a funded agent wallet,
    a merchant with a token account, and the shop (facilitator on the same node)."""
    settings = {
        "storage": {"url": postgres_url},
        "solana": {"network": "devnet", "rpc_url": node.url},
        "security": FAST_SECURITY,
    }
    daemons: list[Daemon] = []
    try:
        for n in range(2):
            daemons.append(
                await blocking(lambda n=n: start_daemon(tmp_path / f"d{n}", config=settings))
            )
        a, b = daemons
        authority, merchant = Keypair(), Keypair()
        mint = await blocking(lambda: node.create_mint(authority, 6))
        token = {"network": "devnet", "mint": mint, "symbol": "GOLD"}
        assert (await blocking(lambda: a.api("POST", "/v1/tokens", json=token))).status_code == 201
        wallet = await blocking(a.create_wallet, "agent")
        agent_key = Pubkey.from_string(wallet["address"])
        await blocking(lambda: node.airdrop(agent_key, SOL))
        await blocking(lambda: node.mint_to(authority, agent_key, mint, 10 * UNITS))
        await blocking(lambda: node.mint_to(authority, merchant.pubkey(), mint, 1))
        shop = Shop(node.url, mint, str(merchant.pubkey()), PRICE)
        shop.network, shop.v1_network = DEVNET
        shop.wait_confirmed = True
        async with running_shop(shop):
            host = shop.url.removeprefix("http://")
            document = {"x402": {"allowedHosts": [host]}, **policy}
            path = f"/v1/wallets/{wallet['id']}/policy"
            put = await blocking(lambda: b.api("PUT", path, json=document))
            assert put.status_code == 200, put.text
            session = await blocking(a.create_session, wallet["id"])
            yield World(a, b, shop, mint, wallet, session)
    finally:
        for daemon in daemons:
            daemon.kill()
            daemon.close()


async def test_one_key_through_two_daemons_at_once_pays_once_on_a_json_rpc_chain(
    tmp_path: Path, postgres_url: str, node: LocalNode
):
    async with world(tmp_path, postgres_url, node, {}) as w:
        answers: list[httpx.Response] = []

        async def pay(daemon: Daemon) -> None:
            answers.append(await w.pay(daemon, idempotencyKey="two-daemons-1"))

        async with anyio.create_task_group() as group:
            for daemon in (w.a, w.b, w.a, w.b):
                group.start_soon(pay, daemon)
        seen = [(r.status_code, r.text) for r in answers]
        assert all(r.status_code in (200, 201) for r in answers), seen
        ids = {r.json()["payment"]["transactionId"] for r in answers}
        assert len(ids) == 1 and len(w.shop.settled) == 1
        # One call paid and got the resource; the others were answered with its record.
        outcomes = sorted(r.json()["outcome"] for r in answers)
        assert outcomes == ["PAID", "RECORDED", "RECORDED", "RECORDED"], outcomes
        assert w.shop.paid_requests == 1
        assert {r.json()["payment"]["network"] for r in answers} == {DEVNET[0]}
        assert await w.balance(w.a) == 10 * UNITS - PRICE

        with anyio.fail_after(30):
            while not ((found := await w.payments(w.b)) and found[0]["status"] == "CONFIRMED"):
                await anyio.sleep(0.05)
        assert [p["id"] for p in found] == list(ids)
        assert found[0]["settlement"] == w.shop.settled[0]


async def test_a_held_payment_approved_through_the_other_daemon_is_paid_once(
    tmp_path: Path, postgres_url: str, node: LocalNode
):
    async with world(tmp_path, postgres_url, node, {}) as w:
        # Any GOLD payment above 1000 base units waits for the owner.
        limits = {"x402": {"allowedHosts": [w.shop.url.removeprefix("http://")]}}
        limits["tokens"] = {w.mint: {"instantMax": "1000"}}  # type: ignore[dict-item]
        path = f"/v1/wallets/{w.wallet['id']}/policy"
        assert (await blocking(lambda: w.a.api("PUT", path, json=limits))).status_code == 200
        waiting = await w.pay(w.a, idempotencyKey="held-key-1")
        assert waiting.status_code == 202, waiting.text
        tx_id = waiting.json()["payment"]["transactionId"]
        assert waiting.json()["payment"]["status"] == "PENDING_APPROVAL"
        # Asked again through the other daemon with another key: the same held payment.
        again = await w.pay(w.b, idempotencyKey="held-key-2")
        assert again.status_code == 202 and again.json()["payment"]["transactionId"] == tx_id
        approved = await blocking(lambda: w.b.api("POST", f"/v1/pending/{tx_id}/approve"))
        assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"
        # The next calls for that URL, one through each daemon at once: one pays it.
        answers: list[httpx.Response] = []

        async def pay(daemon: Daemon) -> None:
            answers.append(await w.pay(daemon))

        async with anyio.create_task_group() as group:
            for daemon in (w.a, w.b):
                group.start_soon(pay, daemon)
        results = [r.json() for r in answers]
        [paid] = [r for r in results if r["outcome"] == "PAID"]
        assert paid["payment"]["transactionId"] == tx_id
        # The owner's yes pays one call. The other saw it (its record) or, once the
        # approved one was taken, asked anew: a new payment that waits, never paid.
        [other] = [r for r in results if r is not paid]
        if other["payment"]["transactionId"] != tx_id:
            assert other["outcome"] == "WAITING", other
            assert other["payment"]["status"] == "PENDING_APPROVAL"
        assert len(w.shop.settled) == 1 and w.shop.paid_requests == 1
        assert await w.balance(w.b) == 10 * UNITS - PRICE
        listed = {p["id"]: p["status"] for p in await w.payments(w.a)}
        assert listed.pop(tx_id) == "CONFIRMED"
        assert set(listed.values()) <= {"PENDING_APPROVAL"}
