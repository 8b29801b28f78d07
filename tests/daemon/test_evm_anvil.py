"""The anvil test support does what the EVM tests rely on: a fresh node on a loopback port,
automine off holding a transaction until a block is mined, snapshot/revert and a reorg
each taking a receipt away, and balances set directly."""

from __future__ import annotations

import pytest

from tests.support import evm
from tests.support.anvil import CHAIN_ID, DEV_ADDRESS, DEV_KEY, start_anvil
from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode

pytestmark = pytest.mark.anyio


@pytest.fixture
async def node(anvil):
    made = JsonRpcNode([anvil.url])
    yield made
    await made.aclose()


async def test_a_fresh_anvil_listens_on_loopback_with_a_funded_dev_account(anvil, node):
    assert anvil.host == "127.0.0.1" and anvil.port > 0
    assert await evm.chain_id(node) == CHAIN_ID
    assert await evm.balance(node, DEV_ADDRESS) == 10_000 * 10**18
    _, someone = evm.new_key()
    anvil.set_balance(someone, 123)
    assert await evm.balance(node, someone) == 123


async def test_without_automine_a_transaction_waits_for_a_block(anvil, node):
    anvil.set_automine(False)
    _, payee = evm.new_key()
    raw, tx_hash = await evm.sign_tx(node, DEV_KEY, to=payee, value=7, gas=21_000)
    await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
    assert await node.request("eth_getTransactionReceipt", [tx_hash]) is None
    assert (await node.request("eth_getTransactionByHash", [tx_hash]))["blockNumber"] is None
    anvil.mine(1)
    receipt = await node.request("eth_getTransactionReceipt", [tx_hash])
    assert receipt["status"] == "0x1"
    assert await evm.balance(node, payee) == 7


async def test_snapshot_revert_and_reorg_take_a_receipt_away(anvil, node):
    _, payee = evm.new_key()
    before = anvil.snapshot()
    first = await evm.send(node, DEV_KEY, to=payee, value=1)
    assert anvil.revert(before)
    assert await node.request("eth_getTransactionReceipt", [first["transactionHash"]]) is None
    assert await evm.balance(node, payee) == 0

    second = await evm.send(node, DEV_KEY, to=payee, value=2)
    anvil.mine(1)
    height = anvil.block_number()
    old_hash = (await node.request("eth_getBlockByNumber", [second["blockNumber"], False]))["hash"]
    anvil.reorg(2)
    assert anvil.block_number() == height
    assert await node.request("eth_getTransactionReceipt", [second["transactionHash"]]) is None
    new_block = await node.request("eth_getBlockByNumber", [second["blockNumber"], False])
    assert new_block["hash"] != old_hash
    assert await evm.balance(node, payee) == 0


def test_two_anvils_get_two_ports_and_stop_cleanly():
    first, second = start_anvil(), start_anvil(automine=False)
    try:
        assert first.port != second.port
        assert second.rpc("anvil_getAutomine") is False
        assert first.rpc("anvil_getAutomine") is True
    finally:
        first.stop()
        second.stop()
    assert first.process.returncode is not None and second.process.returncode is not None
