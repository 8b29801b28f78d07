"""The official MCP client drives an EVM wallet (evm-local) through waiaas-mcp and a real daemon."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ETH = 10**18
RECIPIENT = "0x000000000000000000000000000000000000dEaD"
SOLANA_ADDRESS = "GFw6bpUcXdcwA4r8WgBoMzwoCXZi18byKGDqsEA9nrVh"


async def test_an_agent_sends_eth_and_usdc_and_is_told_a_solana_address_is_the_wrong_chain(
    daemon: Daemon, tmp_path: Path
):
    # The first EVM wallet and the first evm-local use load the EVM libraries: slow once.
    with httpx.Client(base_url=daemon.base_url, timeout=120, headers=daemon.master) as http:
        wallet = http.post("/v1/wallets", json={"name": "eth", "chain": "evm"}).json()
        for body in ({"amount": str(ETH)}, {"amount": "20000000", "token": "USDC"}):
            dropped = http.post(f"/v1/wallets/{wallet['id']}/airdrop", json=body)
            assert dropped.status_code == 201, dropped.text
    provisioned = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    assert provisioned.status_code == 201, provisioned.text
    async with mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as client:
        address = await call(client, "get_address")
        assert address["chain"] == "evm" and address["address"] == wallet["address"]
        balance = await call(client, "get_balance")
        assert (balance["symbol"], balance["uiBalance"]) == ("ETH", "1")
        wrong = await client.call_tool("send_token", {"to": SOLANA_ADDRESS, "amount": 1000})
        body = result_json(wrong)
        assert wrong.is_error and body["code"] == "INVALID_ADDRESS"
        assert "to: " in body["message"] and "EVM wallet" in body["message"]
        sent = await call(client, "send_token", {"to": RECIPIENT, "amount": str(ETH // 10)})
        assert sent["status"] == "CONFIRMED", sent
        paid = await call(
            client, "send_token", {"to": RECIPIENT, "amount": 5_000_000, "token": "USDC"}
        )
        assert paid["status"] == "CONFIRMED", paid
        elsewhere = await client.call_tool(
            "send_token", {"to": RECIPIENT, "amount": 1, "network": "base"}
        )
        assert elsewhere.is_error and result_json(elsewhere)["code"] == "POLICY_DENIED"
        assets = await call(client, "get_assets")
        usdc = next(i for i in assets["items"] if i["symbol"] == "USDC")
        assert (usdc["amount"], usdc["uiAmount"]) == ("15000000", "15")
        listed = await call(client, "list_transactions", {"network": "evm-local"})
        sends = [t for t in listed["items"] if t["type"] == "TRANSFER"]
        assert [(t["network"], t["nonce"]) for t in sends] == [("evm-local", 1), ("evm-local", 0)]
        assert all(int(t["fee"]) > 0 for t in sends)
