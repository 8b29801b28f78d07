"""A waiting send the chain cannot take yet (CHAIN_ERROR before signing) waits again."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import Stall, node_server
from tests.faults.test_rpc_faults import MASTER, UNAVAILABLE, Node, agent, in_process_daemon

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000


async def test_an_approval_the_chain_refused_stays_pending_and_can_be_approved_again(tmp_path):
    node = Node()
    async with node_server(node) as server, in_process_daemon(tmp_path, server.url) as http:
        wallet, headers = await agent(http)
        node.fund(Pubkey.from_string(wallet["address"]), 2 * SOL)
        shop = str(Pubkey.new_unique())
        node.fund(Pubkey.from_string(shop), SOL)
        policy = await http.put(
            f"/v1/wallets/{wallet['id']}/policy", json={"instantMax": "1"}, headers=MASTER
        )
        assert policy.status_code == 200
        sent = await http.post(
            "/v1/transactions/send", json={"to": shop, "amount": "1000"}, headers=headers
        )
        tx_id = sent.json()["id"]
        node.fail("getLatestBlockhash", Stall(), UNAVAILABLE, UNAVAILABLE, UNAVAILABLE)
        refused = await http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
        assert (refused.status_code, refused.json()["code"]) == (502, "CHAIN_ERROR")
        assert node.calls("sendTransaction") == []
        record = (await http.get(f"/v1/transactions/{tx_id}", headers=headers)).json()
        assert record["status"] == "PENDING_APPROVAL"
        approved = await http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] in ("SUBMITTED", "CONFIRMED")
