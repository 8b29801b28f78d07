"""The embedded evm-local node: transactions signed with eth-account, real receipts, what a
real node refuses (nonce, chain id, funds, gas, fees, replacements), reverts, fee history,
the pool without automine, durability across a restart on SQLite and PostgreSQL, and the
engine imported only when the node is first used."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from eth_account import Account

from tests.support import evm
from waiaas_daemon.chain.evm import EvmRpcError
from waiaas_daemon.chain.evm.embedded import (
    EVM_LOCAL_CHAIN_ID,
    FAUCET_ADDRESS,
    FAUCET_KEY,
    USDC_ADDRESS,
    EmbeddedNode,
)
from waiaas_daemon.storage import SqliteStorage

pytestmark = pytest.mark.anyio

ETH = 10**18
GWEI = 10**9


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def node(tmp_path, clock) -> AsyncIterator[EmbeddedNode]:
    async with SqliteStorage.open(tmp_path / "waiaas.db") as db:
        made = EmbeddedNode(db, clock=clock)
        try:
            yield made
        finally:
            await made.aclose()


async def funded(node: EmbeddedNode, wei: int = ETH) -> tuple[str, str]:
    key, address = evm.new_key()
    await node.airdrop(address, wei)
    return key, address


async def refused(node: EmbeddedNode, raw: bytes) -> EvmRpcError:
    with pytest.raises(EvmRpcError) as caught:
        await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
    return caught.value


async def test_it_is_evm_local_with_the_test_usdc_deployed(node: EmbeddedNode, clock: Clock):
    assert await node.request("eth_chainId", []) == hex(EVM_LOCAL_CHAIN_ID)
    assert await node.request("net_version", []) == str(EVM_LOCAL_CHAIN_ID)
    assert node.network == "evm-local"
    # Block 1 is the faucet's deployment of the test USDC, at the documented address.
    assert await node.request("eth_blockNumber", []) == "0x1"
    block = await node.request("eth_getBlockByNumber", ["0x1", True])
    deployment = block["transactions"][0]
    assert deployment["from"] == FAUCET_ADDRESS.lower()
    assert deployment["to"] is None
    receipt = await node.request("eth_getTransactionReceipt", [deployment["hash"]])
    assert receipt["contractAddress"] == USDC_ADDRESS.lower()
    code = await node.request("eth_getCode", [USDC_ADDRESS, "latest"])
    assert len(code) > 1000
    assert await node.request("eth_getCode", [USDC_ADDRESS, "0x0"]) == "0x"
    assert Account.from_key(FAUCET_KEY).address == FAUCET_ADDRESS
    assert int(block["timestamp"], 16) >= int(clock.now)
    assert int(block["baseFeePerGas"], 16) > 0


async def test_an_eth_send_has_a_real_receipt_and_costs_its_fee(node: EmbeddedNode, clock):
    key, sender = await funded(node)
    _, payee = evm.new_key()
    clock.now += 60
    receipt = await evm.send(node, key, to=payee, value=12345, priority_fee=2 * GWEI)
    assert receipt["status"] == "0x1"
    assert receipt["from"] == sender.lower() and receipt["to"] == payee.lower()
    assert int(receipt["gasUsed"], 16) == 21_000
    block = await node.request("eth_getBlockByNumber", [receipt["blockNumber"], False])
    assert block["transactions"] == [receipt["transactionHash"]]
    assert int(block["timestamp"], 16) == int(clock.now)
    base_fee = int(block["baseFeePerGas"], 16)
    price = int(receipt["effectiveGasPrice"], 16)
    assert price == base_fee + 2 * GWEI
    assert await evm.balance(node, payee) == 12345
    assert await evm.balance(node, sender) == ETH - 12345 - 21_000 * price
    assert await node.request("eth_getTransactionCount", [sender, "latest"]) == "0x1"
    tx = await node.request("eth_getTransactionByHash", [receipt["transactionHash"]])
    assert tx["blockNumber"] == receipt["blockNumber"] and tx["nonce"] == "0x0"
    assert tx["chainId"] == hex(EVM_LOCAL_CHAIN_ID) and tx["type"] == "0x2"
    assert await node.request("eth_getTransactionReceipt", ["0x" + "00" * 32]) is None
    assert await node.request("eth_getTransactionByHash", ["0x" + "00" * 32]) is None


async def test_a_usdc_send_moves_tokens_and_logs_a_transfer(node: EmbeddedNode):
    key, sender = await funded(node)
    _, payee = evm.new_key()
    await node.mint_usdc(sender, 5_000_000)
    data = evm.calldata("transfer(address,uint256)", payee, 1_250_000)
    estimate = int(
        await node.request(
            "eth_estimateGas", [{"from": sender, "to": USDC_ADDRESS, "data": "0x" + data.hex()}]
        ),
        16,
    )
    receipt = await evm.send(node, key, to=USDC_ADDRESS, data=data, gas=estimate)
    assert receipt["status"] == "0x1"
    assert int(receipt["gasUsed"], 16) <= estimate
    assert await evm.token_balance(node, USDC_ADDRESS, payee) == 1_250_000
    assert await evm.token_balance(node, USDC_ADDRESS, sender) == 3_750_000
    [log] = receipt["logs"]
    assert log["address"] == USDC_ADDRESS.lower()
    assert log["topics"][0] == "0x" + evm.keccak(text="Transfer(address,address,uint256)").hex()
    assert log["topics"][2] == "0x" + "00" * 12 + payee.lower()[2:]
    assert int(log["data"], 16) == 1_250_000
    assert receipt["logsBloom"] != "0x" + "00" * 256


async def test_a_wrong_nonce_is_refused_or_queued_as_a_node_does(node: EmbeddedNode):
    key, sender = await funded(node)
    _, payee = evm.new_key()
    await evm.send(node, key, to=payee, value=1)
    stale, _ = await evm.sign_tx(node, key, to=payee, value=1, nonce=0)
    error = await refused(node, stale)
    assert error.code == -32000 and error.message == "nonce too low: next nonce 1, tx nonce 0"
    # A gap: nonce 2 waits (no receipt) until nonce 1 fills it; then both are mined.
    ahead, ahead_hash = await evm.sign_tx(node, key, to=payee, value=2, nonce=2)
    assert await node.request("eth_sendRawTransaction", ["0x" + ahead.hex()]) == ahead_hash
    assert await node.request("eth_getTransactionReceipt", [ahead_hash]) is None
    waiting = await node.request("eth_getTransactionByHash", [ahead_hash])
    assert waiting["blockNumber"] is None
    assert await node.request("eth_getTransactionCount", [sender, "pending"]) == "0x1"
    await evm.send(node, key, to=payee, value=3, nonce=1)
    receipt = await node.request("eth_getTransactionReceipt", [ahead_hash])
    assert receipt["status"] == "0x1"
    assert await evm.balance(node, payee) == 1 + 2 + 3
    assert await node.request("eth_getTransactionCount", [sender, "latest"]) == "0x3"


async def test_a_wrong_chain_id_or_no_chain_id_is_refused(node: EmbeddedNode):
    key, sender = await funded(node)
    _, payee = evm.new_key()
    wrong, _ = await evm.sign_tx(node, key, to=payee, value=1, chain=31337)
    error = await refused(node, wrong)
    assert error.message == f"invalid chain id for signer: have 31337 want {EVM_LOCAL_CHAIN_ID}"
    legacy = Account.sign_transaction(
        {"nonce": 0, "gasPrice": 10 * GWEI, "gas": 21_000, "to": payee, "value": 1, "data": b""},
        key,
    )
    error = await refused(node, bytes(legacy.raw_transaction))
    assert error.message == "only replay-protected (EIP-155) transactions allowed over RPC"
    # The same legacy transaction signed for this chain (EIP-155) goes through.
    protected = Account.sign_transaction(
        {
            "nonce": 0,
            "gasPrice": 10 * GWEI,
            "gas": 21_000,
            "to": payee,
            "value": 1,
            "data": b"",
            "chainId": EVM_LOCAL_CHAIN_ID,
        },
        key,
    )
    sent = await node.request("eth_sendRawTransaction", ["0x" + protected.raw_transaction.hex()])
    receipt = await node.request("eth_getTransactionReceipt", [sent])
    assert receipt["status"] == "0x1" and receipt["type"] == "0x0"
    assert await evm.balance(node, payee) == 1
    assert await node.request("eth_getTransactionCount", [sender, "latest"]) == "0x1"


async def test_funds_gas_and_fees_are_checked_before_the_pool(node: EmbeddedNode):
    key, sender = await funded(node, 10**15)
    _, payee = evm.new_key()
    too_much, _ = await evm.sign_tx(node, key, to=payee, value=10**15, gas=21_000)
    assert (await refused(node, too_much)).message.startswith(
        "insufficient funds for gas * price + value"
    )
    no_gas, _ = await evm.sign_tx(node, key, to=payee, value=1, gas=20_000)
    assert (await refused(node, no_gas)).message == (
        "intrinsic gas too low: gas 20000, minimum needed 21000"
    )
    huge, _ = await evm.sign_tx(node, key, to=payee, value=1, gas=30_000_001)
    assert (await refused(node, huge)).message == "exceeds block gas limit"
    cheap, _ = await evm.sign_tx(
        node, key, to=payee, value=1, gas=21_000, max_fee=1, priority_fee=1
    )
    assert (await refused(node, cheap)).message.startswith(
        "max fee per gas less than block base fee"
    )
    upside_down, _ = await evm.sign_tx(
        node, key, to=payee, value=1, gas=21_000, max_fee=GWEI, priority_fee=2 * GWEI
    )
    assert (await refused(node, upside_down)).message.startswith(
        "max priority fee per gas higher than max fee per gas"
    )
    for garbage in (b"\x02\xc0", b"\xff" * 10):
        assert "could not be decoded" in (await refused(node, garbage)).message
    assert await node.request("eth_getTransactionCount", [sender, "pending"]) == "0x0"


async def test_without_automine_the_pool_holds_replaces_and_mines(tmp_path, clock):
    async with SqliteStorage.open(tmp_path / "w.db") as db:
        node = EmbeddedNode(db, clock=clock)
        key, sender = await funded(node)
        await node.set_automine(False)
        _, payee = evm.new_key()
        raw, tx_hash = await evm.sign_tx(
            node, key, to=payee, value=5, gas=21_000, max_fee=10 * GWEI, priority_fee=GWEI
        )
        assert await node.request("eth_sendRawTransaction", ["0x" + raw.hex()]) == tx_hash
        assert (await refused(node, raw)).message == "already known"
        assert await node.request("eth_getTransactionCount", [sender, "pending"]) == "0x1"
        assert await node.request("eth_getTransactionCount", [sender, "latest"]) == "0x0"
        # Same nonce, fees up by less than 10 %: refused; by 10 % or more: replaces it.
        low, _ = await evm.sign_tx(
            node,
            key,
            to=payee,
            value=5,
            nonce=0,
            gas=21_000,
            max_fee=10 * GWEI + 1,
            priority_fee=GWEI + 1,
        )
        assert (await refused(node, low)).message == "replacement transaction underpriced"
        bumped, bumped_hash = await evm.sign_tx(
            node,
            key,
            to=payee,
            value=5,
            nonce=0,
            gas=21_000,
            max_fee=11 * GWEI,
            priority_fee=GWEI * 11 // 10,
        )
        assert await node.request("eth_sendRawTransaction", ["0x" + bumped.hex()]) == bumped_hash
        assert await node.request("eth_getTransactionByHash", [tx_hash]) is None
        before = await node.request("eth_blockNumber", [])
        await node.mine()
        assert int(await node.request("eth_blockNumber", []), 16) == int(before, 16) + 1
        receipt = await node.request("eth_getTransactionReceipt", [bumped_hash])
        assert receipt["status"] == "0x1"
        assert await node.request("eth_getTransactionReceipt", [tx_hash]) is None
        assert await evm.balance(node, payee) == 5
        await node.aclose()


async def test_a_revert_answers_its_reason_and_a_mined_revert_costs_gas(node: EmbeddedNode):
    key, holder = await funded(node)
    token = await evm.deploy(node, key, "RevertingToken")
    transfer = evm.calldata("transfer(address,uint256)", holder, 1)
    call = {"from": holder, "to": token, "data": "0x" + transfer.hex()}
    for method in ("eth_call", "eth_estimateGas"):
        with pytest.raises(EvmRpcError) as caught:
            await node.request(method, [call, "latest"])
        assert caught.value.code == 3
        assert caught.value.message == "execution reverted: RevertingToken: transfers are disabled"
        assert evm.revert_reason(caught.value.data) == "RevertingToken: transfers are disabled"
    receipt = await evm.send(node, key, to=token, data=transfer, gas=60_000)
    assert receipt["status"] == "0x0"
    assert 21_000 < int(receipt["gasUsed"], 16) < 60_000


async def test_fee_history_reports_base_fees_ratios_and_tips(node: EmbeddedNode):
    key, _ = await funded(node)
    _, payee = evm.new_key()
    await evm.send(node, key, to=payee, value=1, priority_fee=3 * GWEI)
    head = int(await node.request("eth_blockNumber", []), 16)
    history = await node.request("eth_feeHistory", ["0x2", "latest", [25, 75]])
    assert history["oldestBlock"] == hex(head - 1)
    assert len(history["baseFeePerGas"]) == 3
    assert len(history["gasUsedRatio"]) == 2
    assert history["gasUsedRatio"][-1] == pytest.approx(21_000 / 30_000_000)
    assert history["reward"][-1] == [hex(3 * GWEI), hex(3 * GWEI)]
    latest = await node.request("eth_getBlockByNumber", ["latest", False])
    assert history["baseFeePerGas"][-2] == latest["baseFeePerGas"]
    # The next block's base fee falls: the last block was far below its gas target.
    assert int(history["baseFeePerGas"][-1], 16) < int(latest["baseFeePerGas"], 16)
    assert await node.request("eth_maxPriorityFeePerGas", []) == hex(GWEI)
    assert int(await node.request("eth_gasPrice", []), 16) == (
        int(history["baseFeePerGas"][-1], 16) + GWEI
    )
    with pytest.raises(EvmRpcError) as caught:
        await node.request("eth_feeHistory", ["0x0", "latest", []])
    assert caught.value.code == -32602


async def test_unknown_methods_and_bad_params_are_json_rpc_errors(node: EmbeddedNode):
    with pytest.raises(EvmRpcError) as caught:
        await node.request("eth_sign", [])
    assert caught.value.code == -32601
    for method, params in [
        ("eth_getBalance", ["not-an-address", "latest"]),
        ("eth_getBalance", ["0x" + "11" * 20, "0xzz"]),
        ("eth_getBlockByNumber", []),
        ("eth_call", ["nope"]),
    ]:
        with pytest.raises(EvmRpcError) as caught:
            await node.request(method, params)
        assert caught.value.code == -32602, (method, caught.value)
    assert await node.request("eth_getBlockByNumber", ["0x999", False]) is None


async def test_everything_survives_a_restart(open_store, clock):
    async with open_store() as db:
        node = EmbeddedNode(db, clock=clock)
        key, sender = await funded(node)
        _, payee = evm.new_key()
        await node.mint_usdc(sender, 7_000_000)
        eth_receipt = await evm.send(node, key, to=payee, value=777)
        data = evm.calldata("transfer(address,uint256)", payee, 2_000_000)
        usdc_receipt = await evm.send(node, key, to=USDC_ADDRESS, data=data)
        head = await node.request("eth_getBlockByNumber", ["latest", False])
        await node.aclose()
    async with open_store() as db:
        node = EmbeddedNode(db, clock=clock)
        assert await node.request("eth_getBlockByNumber", ["latest", False]) == head
        assert await evm.balance(node, payee) == 777
        assert await evm.token_balance(node, USDC_ADDRESS, payee) == 2_000_000
        assert await evm.token_balance(node, USDC_ADDRESS, sender) == 5_000_000
        for receipt in (eth_receipt, usdc_receipt):
            again = await node.request("eth_getTransactionReceipt", [receipt["transactionHash"]])
            assert again == receipt
        assert await node.request("eth_getTransactionCount", [sender, "pending"]) == "0x2"
        # The chain goes on from where it was: the next nonce, the next block.
        stale, _ = await evm.sign_tx(node, key, to=payee, value=1, nonce=1)
        assert (await refused(node, stale)).message.startswith("nonce too low")
        receipt = await evm.send(node, key, to=payee, value=1)
        assert int(receipt["blockNumber"], 16) == int(head["number"], 16) + 1
        block = await node.request("eth_getBlockByNumber", [receipt["blockNumber"], False])
        assert block["parentHash"] == head["hash"]
        await node.aclose()


def test_the_engine_loads_only_when_the_node_is_first_used():
    script = """
import sys
import anyio
from waiaas_daemon.chain.evm import EvmNode, jsonrpc
from waiaas_daemon.chain.evm.embedded import EmbeddedNode
heavy = ("eth", "eth_account", "eth_abi", "eth_keys", "rlp", "trie", "coincurve")
class Store:
    async def load_evm_local(self): return []
    async def save_evm_local(self, changes): pass
node = EmbeddedNode(Store())
print(sorted(m for m in heavy if m in sys.modules))
anyio.run(node.request, "eth_blockNumber", [])
print(sorted(m for m in heavy if m in sys.modules))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    before, after = done.stdout.splitlines()
    assert before == "[]"
    assert "'eth'" in after and "'eth_account'" in after


async def test_a_failed_save_is_written_with_the_next_one(tmp_path, clock):
    class Flaky:
        def __init__(self, db: SqliteStorage) -> None:
            self.db = db
            self.fail_next = False

        async def load_evm_local(self):
            return await self.db.load_evm_local()

        async def save_evm_local(self, changes):
            if self.fail_next:
                self.fail_next = False
                raise OSError("disk full")
            await self.db.save_evm_local(changes)

    async with SqliteStorage.open(tmp_path / "w.db") as db:
        store = Flaky(db)
        node = EmbeddedNode(store, clock=clock)
        key, _ = await funded(node)
        _, payee = evm.new_key()
        raw, tx_hash = await evm.sign_tx(node, key, to=payee, value=10)
        store.fail_next = True
        with pytest.raises(OSError):
            await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
        # The block is mined in memory; the next save writes its keys too.
        receipt = await node.request("eth_getTransactionReceipt", [tx_hash])
        assert receipt["status"] == "0x1"
        await evm.send(node, key, to=payee, value=20)
        await node.aclose()
        again = EmbeddedNode(db, clock=clock)
        assert await again.request("eth_getTransactionReceipt", [tx_hash]) == receipt
        assert await evm.balance(again, payee) == 30
        assert await again.request("eth_getTransactionCount", [payee, "latest"]) == "0x0"
        await again.aclose()


async def test_a_call_beyond_the_balance_or_an_engine_fault_is_a_json_rpc_error(
    node: EmbeddedNode, caplog
):
    _, poor = await funded(node, 10**15)
    for method in ("eth_call", "eth_estimateGas"):
        with pytest.raises(EvmRpcError) as caught:
            await node.request(method, [{"from": poor, "to": poor, "value": hex(ETH)}, "latest"])
        assert (caught.value.code, caught.value.message) == (
            -32000,
            "insufficient funds for transfer",
        )
    # Whatever else goes wrong inside the engine answers -32603, its traceback in our log.
    engine = node._engine
    assert engine is not None

    def broken() -> str:
        raise ZeroDivisionError("engine bug")

    engine.rpc_eth_blockNumber = broken  # type: ignore[method-assign]
    with pytest.raises(EvmRpcError) as caught:
        await node.request("eth_blockNumber", [])
    assert (caught.value.code, caught.value.message) == (
        -32603,
        "internal error in eth_blockNumber",
    )
    assert "engine bug" not in str(caught.value)
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in caplog.records)
