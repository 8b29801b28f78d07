"""The official MCP client pays for an x402 resource through waiaas-mcp and a real daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.x402_fakes import Shop, running_shop
from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
USDC = 10**6
PRICE = 150_000


def _airdrop(daemon: Daemon, wallet_id: str, body: dict[str, str]) -> None:
    response = daemon.api("POST", f"/v1/wallets/{wallet_id}/airdrop", json=body)
    assert response.status_code == 201, response.text


async def test_pay_for_resource_pays_once_within_the_rules(daemon: Daemon, tmp_path: Path):
    wallet = daemon.create_wallet("agent")
    merchant = daemon.create_wallet("merchant")
    _airdrop(daemon, wallet["id"], {"amount": str(SOL)})
    _airdrop(daemon, wallet["id"], {"amount": str(5 * USDC), "token": "USDC"})
    _airdrop(daemon, merchant["id"], {"amount": "1", "token": "USDC"})
    mint = next(
        t["mint"] for t in daemon.api("GET", "/v1/tokens").json()["items"] if t["symbol"] == "USDC"
    )
    provisioned = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    assert provisioned.status_code == 201, provisioned.text
    shop = Shop(f"{daemon.base_url}/v1/local-rpc", mint, merchant["address"], PRICE)
    async with (
        running_shop(shop),
        mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as client,
    ):
        url = f"{shop.url}/report"
        refused = await client.call_tool("pay_for_resource", {"url": url})
        assert refused.is_error
        assert result_json(refused)["code"] == "POLICY_DENIED"
        assert "x402.allowedHosts" in result_json(refused)["message"]
        host = shop.url.removeprefix("http://")
        policy = {"x402": {"allowedHosts": [host], "maxPerRequest": {mint: str(USDC)}}}
        answer = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy)
        assert answer.status_code == 200, answer.text
        before = await call(client, "get_assets")
        paid = await call(client, "pay_for_resource", {"url": url, "max_amount": str(USDC)})
        assert paid["outcome"] == "PAID", paid
        assert paid["resource"]["status"] == 200
        assert "the numbers" in paid["resource"]["body"]
        assert paid["payment"]["settlement"] == shop.settled[0]
        after = await call(client, "get_assets")
        listed = await call(client, "list_transactions")
    amounts = {i["symbol"]: int(i["amount"]) for i in before["items"]}
    later = {i["symbol"]: int(i["amount"]) for i in after["items"]}
    # The price in USDC and nothing else: the facilitator paid the fee in SOL.
    assert later["USDC"] == amounts["USDC"] - PRICE
    assert later["SOL"] == amounts["SOL"]
    assert listed["items"][0]["type"] == "PAYMENT"
    assert listed["items"][0]["origin"] == shop.url
    assert len(shop.settled) == 1
