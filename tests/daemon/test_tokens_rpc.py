"""A token send over JSON-RPC: a real daemon on devnet whose rpc_url is the fake node."""

from __future__ import annotations

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import FakeSolanaNode, node_server
from tests.support.daemon import FAST_SECURITY, PASSWORD, Daemon, start_daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
MASTER = {"X-Master-Password": PASSWORD}


async def test_a_registered_devnet_token_is_listed_and_sent_over_json_rpc(tmp_path):
    node = FakeSolanaNode()
    async with node_server(node) as server:
        config = {"security": FAST_SECURITY, "solana": {"network": "devnet", "rpc_url": server.url}}
        daemon: Daemon = await anyio.to_thread.run_sync(
            lambda: start_daemon(tmp_path / "data", config=config)
        )
        try:
            async with httpx.AsyncClient(base_url=daemon.base_url, timeout=30) as http:
                await _send_over_rpc(http, node)
            assert daemon.stop() == 0
        finally:
            daemon.kill()
            daemon.close()


async def _send_over_rpc(http: httpx.AsyncClient, node: FakeSolanaNode) -> None:
    alice = (await http.post("/v1/wallets", json={"name": "alice"}, headers=MASTER)).json()
    bob = (await http.post("/v1/wallets", json={"name": "bob"}, headers=MASTER)).json()
    session = await http.post("/v1/sessions", json={"walletId": alice["id"]}, headers=MASTER)
    auth = {"Authorization": f"Bearer {session.json()['token']}"}
    authority = Keypair()
    mint = node.create_mint(authority, 4)
    node.fund(Pubkey.from_string(alice["address"]), SOL)
    node.mint_to(authority, Pubkey.from_string(alice["address"]), mint, 90_000)

    added = await http.post(
        "/v1/tokens", json={"network": "devnet", "mint": mint, "symbol": "TST"}, headers=MASTER
    )
    assert added.status_code == 201, added.text
    assert added.json()["decimals"] == 4  # read from the mint on the node
    listed = (await http.get("/v1/tokens")).json()
    assert {t["symbol"] for t in listed["items"]} == {"USDC", "TST"}  # devnet's built-in too

    assets = (await http.get("/v1/wallet/assets", headers=auth)).json()
    assert [(i["symbol"], i["amount"], i["decimals"]) for i in assets["items"]] == [
        ("SOL", str(SOL), 9),
        ("TST", "90000", 4),
    ]
    sent = await http.post(
        "/v1/transactions/send",
        json={"to": bob["address"], "amount": "12345", "token": "TST"},
        headers=auth,
    )
    assert sent.status_code == 201, sent.text
    tx_id = sent.json()["id"]
    with anyio.fail_after(10):
        while (record := (await http.get(f"/v1/transactions/{tx_id}", headers=auth)).json())[
            "status"
        ] not in ("CONFIRMED", "FAILED"):
            await anyio.sleep(0.05)
    assert record["status"] == "CONFIRMED", record
    assert record["token"] == {"mint": mint, "symbol": "TST", "decimals": 4}
    assets = (await http.get("/v1/wallet/assets", headers=auth)).json()
    assert assets["items"][1]["amount"] == str(90_000 - 12_345)
    airdrop = await http.post(
        f"/v1/wallets/{alice['id']}/airdrop", json={"amount": "1", "token": "TST"}, headers=MASTER
    )
    assert airdrop.status_code == 400 and "token" in airdrop.json()["message"]
