"""The console shows each wallet's chain, an EVM wallet's balance in ETH and each
transaction's network."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import MASTER

pytestmark = pytest.mark.anyio

RECIPIENT = "0x000000000000000000000000000000000000dEaD"


async def test_an_evm_wallet_shows_its_chain_eth_balance_and_each_sends_network(harness, owner):
    created = await harness.http.post(
        "/v1/wallets", json={"name": "eth wallet", "chain": "evm"}, headers=MASTER
    )
    wallet = created.json()
    dropped = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(10**18)}, headers=MASTER
    )
    assert dropped.status_code == 201, dropped.text
    token = (await harness.session(wallet["id"]))["token"]
    sent = await harness.http.post(
        "/v1/transactions/send",
        json={"to": RECIPIENT, "amount": str(10**17)},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 201, sent.text
    await harness.wallet("sol wallet")
    overview = (await owner.http.get("/console/")).text
    assert "evm · evm-local" in overview and "solana · local" in overview
    # 1 ETH less 0.1 sent and its fee
    assert re.search(r'<li class="nowrap holding">0\.89\d* ETH\b', overview), overview
    page = (await owner.http.get(f"/console/wallets/{wallet['id']}")).text
    assert "<dt>Chain</dt><dd>evm</dd>" in page and wallet["address"] in page
    assert '<td data-label="Network">evm-local</td>' in page
    assert "0.1 ETH" in page  # the send's amount in its network's coin
