"""The official MCP client moves USDC through waiaas-mcp and a real `waiaas-daemon serve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mcp.support import call, mcp_client
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
USDC = 10**6


async def test_get_assets_then_a_usdc_send_token(daemon: Daemon, tmp_path: Path):
    wallet = daemon.create_wallet("agent")
    shop = daemon.create_wallet("shop")
    for body in ({"amount": str(SOL)}, {"amount": str(20 * USDC), "token": "USDC"}):
        response = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=body)
        assert response.status_code == 201, response.text
    provisioned = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    assert provisioned.status_code == 201, provisioned.text
    async with mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as client:
        assets = await call(client, "get_assets")
        usdc = next(item for item in assets["items"] if item["symbol"] == "USDC")
        assert (usdc["amount"], usdc["decimals"]) == (str(20 * USDC), 6)
        sent = await call(
            client, "send_token", {"to": shop["address"], "amount": 5 * USDC, "token": "USDC"}
        )
        assert sent["status"] == "CONFIRMED", sent
        after = await call(client, "get_assets")
    usdc = next(item for item in after["items"] if item["symbol"] == "USDC")
    assert usdc["amount"] == str(15 * USDC)
    token = daemon.create_session(shop["id"])["token"]
    with daemon.client(headers={"Authorization": f"Bearer {token}"}) as http:
        items = http.get("/v1/wallet/assets").json()["items"]
    assert [(i["symbol"], i["amount"]) for i in items[1:]] == [("USDC", str(5 * USDC))]
