"""x402 payments with two real daemons on one PostgreSQL database, settled on a JSON-RPC
devnet (tests/daemon/fake_rpc_node.py): the facilitator of tests/daemon/x402_fakes.py
submits to that node. One idempotency key sent to both daemons at once is one payment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import ThreadedNode
from tests.daemon.test_telegram_live import blocking
from tests.daemon.x402_fakes import DEVNET, Shop, running_shop
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 10**9
UNITS = 10**6
PRICE = 250_000


@pytest.fixture
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode() as running:
        yield running


def config(postgres_url: str, node: ThreadedNode) -> dict[str, Any]:
    return {
        "storage": {"url": postgres_url},
        "solana": {"network": "devnet", "rpc_url": node.url},
        "security": FAST_SECURITY,
    }


async def token_balance(daemon: Daemon, token: str, mint: str) -> int:
    async with httpx.AsyncClient(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        items = (await http.get("/v1/wallet/assets")).json()["items"]
    return sum(int(i["amount"]) for i in items if i["mint"] == mint)


async def test_one_key_through_two_daemons_at_once_pays_once_on_a_json_rpc_chain(
    tmp_path: Path, postgres_url: str, node: ThreadedNode
):
    settings = config(postgres_url, node)
    daemons: list[Daemon] = []
    try:
        for n in range(2):
            daemons.append(
                await blocking(lambda n=n: start_daemon(tmp_path / f"d{n}", config=settings))
            )
        a, b = daemons
        authority, merchant = Keypair(), Keypair()
        mint = node.call(lambda: node.node.create_mint(authority, 6))
        token = {"network": "devnet", "mint": mint, "symbol": "GOLD"}
        assert (await blocking(lambda: a.api("POST", "/v1/tokens", json=token))).status_code == 201
        wallet = await blocking(a.create_wallet, "agent")
        agent_key = Pubkey.from_string(wallet["address"])
        node.call(lambda: node.node.fund(agent_key, SOL))
        node.call(lambda: node.node.mint_to(authority, agent_key, mint, 10 * UNITS))
        node.call(lambda: node.node.mint_to(authority, merchant.pubkey(), mint, 1))

        network, v1_network = DEVNET
        shop = Shop(node.url, mint, str(merchant.pubkey()), PRICE)
        shop.network, shop.v1_network, shop.wait_confirmed = network, v1_network, True
        async with running_shop(shop):
            host = shop.url.removeprefix("http://")
            policy = {"x402": {"allowedHosts": [host]}}
            path = f"/v1/wallets/{wallet['id']}/policy"
            put = await blocking(lambda: b.api("PUT", path, json=policy))
            assert put.status_code == 200, put.text
            session = await blocking(a.create_session, wallet["id"])
            auth = {"Authorization": f"Bearer {session['token']}"}
            answers: list[httpx.Response] = []

            async def pay(daemon: Daemon) -> None:
                async with httpx.AsyncClient(
                    base_url=daemon.base_url, headers=auth, timeout=60
                ) as http:
                    body = {"url": shop.url + "/report", "idempotencyKey": "two-daemons-1"}
                    answers.append(await http.post("/v1/x402/pay", json=body))

            async with anyio.create_task_group() as group:
                for daemon in (a, b, a, b):
                    group.start_soon(pay, daemon)
            seen = [(r.status_code, r.text) for r in answers]
            assert all(r.status_code in (200, 201) for r in answers), seen
            ids = {r.json()["payment"]["transactionId"] for r in answers}
            assert len(ids) == 1 and len(shop.settled) == 1
            # One call paid and got the resource; the others were answered with its record.
            outcomes = sorted(r.json()["outcome"] for r in answers)
            assert outcomes == ["PAID", "RECORDED", "RECORDED", "RECORDED"], outcomes
            assert shop.paid_requests == 1
            assert await token_balance(a, session["token"], mint) == 10 * UNITS - PRICE

            async with httpx.AsyncClient(base_url=b.base_url, headers=auth, timeout=30) as http:
                with anyio.fail_after(30):
                    while True:
                        items = (await http.get("/v1/transactions")).json()["items"]
                        payments = [t for t in items if t["type"] == "PAYMENT"]
                        if payments and payments[0]["status"] == "CONFIRMED":
                            break
                        await anyio.sleep(0.05)
            assert [p["id"] for p in payments] == list(ids)
            assert payments[0]["settlement"] == shop.settled[0]
            assert {r.json()["payment"]["network"] for r in answers} == {network}
    finally:
        for daemon in daemons:
            daemon.kill()
            daemon.close()
