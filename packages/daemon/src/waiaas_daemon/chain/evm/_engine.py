"""The evm-local chain's engine: py-evm behind the JSON-RPC methods (synchronous).

``EmbeddedNode`` (embedded.py) owns one, calls it from a worker thread under
its lock and writes ``take_changes()`` to the database after each call. This
module imports py-evm and eth-account: only embedded.py imports it, lazily.
Error messages follow geth's (code -32000; a revert is code 3 with its data).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import rlp
from eth._utils.address import generate_contract_address
from eth.chains.base import MiningChain
from eth.consensus import ConsensusApplier, NoProofConsensus
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.exceptions import (
    BlockNotFound,
    HeaderNotFound,
    Revert,
    TransactionNotFound,
    UnrecognizedTransactionType,
    VMError,
)
from eth.vm.forks import PragueVM
from eth.vm.spoof import SpoofTransaction
from eth_abi import encode
from eth_account import Account
from eth_typing import Address
from eth_utils import ValidationError, keccak, to_checksum_address

from . import contracts
from .node import EvmRpcError

# py-evm's objects, typed loosely: its API wants NewTypes (Address, Hash32,
# BlockNumber) of the bytes and ints this module passes around.
BlockAPI: TypeAlias = Any
BlockHeaderAPI: TypeAlias = Any
ReceiptAPI: TypeAlias = Any
SignedTransactionAPI: TypeAlias = Any

log = logging.getLogger("waiaas.evm.local")

GWEI = 10**9
GAS_LIMIT = 30_000_000
GENESIS_BASE_FEE = GWEI
FAUCET_BALANCE = 10**30  # a trillion test ETH
# What eth_maxPriorityFeePerGas suggests (anvil's answer too).
PRIORITY_FEE = GWEI
# A replacement must raise both fees by this much (geth's txpool.pricebump).
PRICE_BUMP_PERCENT = 10
# Queued transactions (nonce gaps) a sender may have waiting.
MAX_QUEUED_PER_SENDER = 64
ZERO_ADDRESS = b"\x00" * 20
BLOB_TX_TYPE = 3

METHODS = (
    "web3_clientVersion",
    "eth_chainId",
    "net_version",
    "eth_syncing",
    "eth_accounts",
    "eth_blockNumber",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_feeHistory",
    "eth_maxPriorityFeePerGas",
    "eth_gasPrice",
    "eth_estimateGas",
    "eth_call",
    "eth_sendRawTransaction",
    "eth_getTransactionReceipt",
    "eth_getTransactionByHash",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
)


def _rejected(message: str) -> EvmRpcError:
    return EvmRpcError(-32000, message)


def _invalid(message: str) -> EvmRpcError:
    return EvmRpcError(-32602, message)


def _hex(value: int) -> str:
    return hex(value)


def _data(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _addr(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _parse_address(value: Any, field: str = "address") -> bytes:
    if not isinstance(value, str) or not value.startswith("0x") or len(value) != 42:
        raise _invalid(f"invalid {field}: expected a 0x-prefixed 20-byte hex address")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _invalid(f"invalid {field}: not hex") from None


def _parse_bytes(value: Any, field: str) -> bytes:
    if value is None:
        return b""
    if not isinstance(value, str) or not value.startswith("0x"):
        raise _invalid(f"invalid {field}: expected 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise _invalid(f"invalid {field}: not hex") from None


def _parse_quantity(value: Any, field: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise _invalid(f"invalid {field}: expected a 0x-prefixed hex quantity")


class _RecordingDB(MemoryDB):
    """py-evm's in-memory store, remembering which keys changed since the last take."""

    def __init__(self, kv_store: dict[bytes, bytes]) -> None:
        super().__init__(kv_store)
        self.changed: dict[bytes, bytes | None] = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        super().__setitem__(key, value)
        self.changed[key] = value

    def __delitem__(self, key: bytes) -> None:
        super().__delitem__(key)
        self.changed[key] = None


def _chain_class(chain_id: int) -> type[MiningChain]:
    vm_configuration = ConsensusApplier(NoProofConsensus).amend_vm_configuration(((0, PragueVM),))

    class EvmLocalChain(MiningChain):
        def create_header_from_parent(
            self, parent_header: BlockHeaderAPI, **header_params: Any
        ) -> BlockHeaderAPI:
            # A constant gas limit, as anvil and eth-tester keep it.
            header_params["gas_limit"] = parent_header.gas_limit
            return super().create_header_from_parent(parent_header, **header_params)

    EvmLocalChain.vm_configuration = vm_configuration
    EvmLocalChain.chain_id = chain_id
    return EvmLocalChain


@dataclass
class _Pooled:
    tx: SignedTransactionAPI
    sender: bytes


class Engine:
    """One py-evm chain with a transaction pool; not thread-safe (the node serialises)."""

    def __init__(
        self,
        rows: Iterable[tuple[bytes, bytes]],
        *,
        chain_id: int,
        clock: Callable[[], float],
        faucet_key: str,
    ) -> None:
        self.chain_id = chain_id
        self.automine = True
        self._clock = clock
        self._faucet = Account.from_key(faucet_key)
        self._faucet_address = bytes.fromhex(self._faucet.address[2:])
        self._db = _RecordingDB({bytes(k): bytes(v) for k, v in rows})
        chain_class: Any = _chain_class(chain_id)
        base_db = AtomicDB(self._db)
        # sender -> nonce -> transaction; hash -> the same entry
        self._pool: dict[bytes, dict[int, _Pooled]] = {}
        self._by_hash: dict[bytes, _Pooled] = {}
        self.chain: Any
        if self._db.kv_store:
            self.chain = chain_class(base_db)
        else:
            self.chain = chain_class.from_genesis(
                base_db, self._genesis_params(), self._genesis_state()
            )
            self._deploy_usdc()

    # -- genesis ------------------------------------------------------------

    def _genesis_params(self) -> dict[str, Any]:
        return {
            "coinbase": ZERO_ADDRESS,
            "difficulty": 0,
            "extra_data": b"waiaas evm-local",
            "gas_limit": GAS_LIMIT,
            "mix_hash": b"\x00" * 32,
            "nonce": b"\x00" * 8,
            "timestamp": int(self._clock()),
            "base_fee_per_gas": GENESIS_BASE_FEE,
        }

    def _genesis_state(self) -> dict[bytes, dict[str, Any]]:
        return {
            self._faucet_address: {
                "balance": FAUCET_BALANCE,
                "nonce": 0,
                "code": b"",
                "storage": {},
            }
        }

    def _deploy_usdc(self) -> None:
        constructor = encode(["address"], [self._faucet.address])
        self._faucet_send(None, 0, contracts.creation_code("TestUSDC") + constructor, gas=3_000_000)

    # -- the durable store ----------------------------------------------------

    def take_changes(self) -> list[tuple[bytes, bytes | None]]:
        changes = list(self._db.changed.items())
        self._db.changed.clear()
        return changes

    def keep_changes(self, changes: list[tuple[bytes, bytes | None]]) -> None:
        """Changes a save failed to write: taken again next time (newer ones win)."""
        for key, value in changes:
            self._db.changed.setdefault(key, value)

    # -- dispatch -------------------------------------------------------------

    def dispatch(self, method: str, params: list[Any]) -> Any:
        handler = getattr(self, "rpc_" + method, None) if method in METHODS else None
        if handler is None:
            raise EvmRpcError(-32601, f"the method {method} does not exist/is not available")
        try:
            return handler(*params)
        except EvmRpcError:
            raise
        except TypeError as exc:
            if "positional argument" in str(exc):
                raise _invalid(f"wrong number of params for {method}") from None
            log.exception("evm-local: %s failed", method)
            raise EvmRpcError(-32603, f"internal error in {method}") from None
        except Exception:
            # A node answers -32603, never a traceback; ours is in the log.
            log.exception("evm-local: %s failed", method)
            raise EvmRpcError(-32603, f"internal error in {method}") from None

    # -- blocks and state -------------------------------------------------------

    def _head(self) -> BlockHeaderAPI:
        return self.chain.get_canonical_head()

    def _header_at(self, tag: Any) -> BlockHeaderAPI:
        head = self._head()
        if tag in (None, "latest", "pending", "safe", "finalized"):
            return head
        if tag == "earliest":
            return self.chain.get_canonical_block_header_by_number(0)
        number = _parse_quantity(tag, "block")
        if number > head.block_number:
            raise _invalid(f"header for block {number} not found")
        return self.chain.get_canonical_block_header_by_number(number)

    def _state(self, tag: Any = "latest") -> Any:
        return self.chain.get_vm(self._header_at(tag)).state

    def rpc_web3_clientVersion(self) -> str:
        return "waiaas-evm-local/py-evm"

    def rpc_eth_chainId(self) -> str:
        return _hex(self.chain_id)

    def rpc_net_version(self) -> str:
        return str(self.chain_id)

    def rpc_eth_syncing(self) -> bool:
        return False

    def rpc_eth_accounts(self) -> list[str]:
        return []

    def rpc_eth_blockNumber(self) -> str:
        return _hex(self._head().block_number)

    def rpc_eth_getBalance(self, address: Any, tag: Any = "latest") -> str:
        return _hex(self._state(tag).get_balance(_parse_address(address)))

    def rpc_eth_getTransactionCount(self, address: Any, tag: Any = "latest") -> str:
        sender = _parse_address(address)
        nonce = self._state(tag).get_nonce(sender)
        if tag == "pending":
            queued = self._pool.get(sender, {})
            while nonce in queued:
                nonce += 1
        return _hex(nonce)

    def rpc_eth_getCode(self, address: Any, tag: Any = "latest") -> str:
        return _data(self._state(tag).get_code(_parse_address(address)))

    def rpc_eth_getStorageAt(self, address: Any, slot: Any, tag: Any = "latest") -> str:
        value = self._state(tag).get_storage(_parse_address(address), _parse_quantity(slot, "slot"))
        return _data(value.to_bytes(32, "big"))

    # -- fees -------------------------------------------------------------------

    def _next_base_fee(self) -> int:
        return int(self.chain.header.base_fee_per_gas)

    def rpc_eth_maxPriorityFeePerGas(self) -> str:
        return _hex(PRIORITY_FEE)

    def rpc_eth_gasPrice(self) -> str:
        return _hex(self._next_base_fee() + PRIORITY_FEE)

    def rpc_eth_feeHistory(
        self, count: Any, newest: Any, percentiles: Any = None
    ) -> dict[str, Any]:
        blocks = _parse_quantity(count, "blockCount")
        if not 1 <= blocks <= 1024:
            raise _invalid("blockCount must be between 1 and 1024")
        percentiles = list(percentiles or [])
        if any(not isinstance(p, (int, float)) or not 0 <= p <= 100 for p in percentiles) or (
            percentiles != sorted(percentiles)
        ):
            raise _invalid("rewardPercentiles must be ascending numbers from 0 to 100")
        last = self._header_at(newest).block_number
        first = max(0, last - blocks + 1)
        base_fees: list[str] = []
        ratios: list[float] = []
        rewards: list[list[str]] = []
        for number in range(first, last + 1):
            block = self.chain.get_canonical_block_by_number(number)
            header = block.header
            base_fees.append(_hex(header.base_fee_per_gas))
            ratios.append(header.gas_used / header.gas_limit)
            if percentiles:
                rewards.append([_hex(r) for r in self._rewards(block, percentiles)])
        if last == self._head().block_number:
            base_fees.append(_hex(self._next_base_fee()))
        else:
            following = self.chain.get_canonical_block_header_by_number(last + 1)
            base_fees.append(_hex(following.base_fee_per_gas))
        answer: dict[str, Any] = {
            "oldestBlock": _hex(first),
            "baseFeePerGas": base_fees,
            "gasUsedRatio": ratios,
        }
        if percentiles:
            answer["reward"] = rewards
        return answer

    def _rewards(self, block: BlockAPI, percentiles: list[float]) -> list[int]:
        """Each percentile's effective tip, transactions weighted by the gas they used (geth)."""
        if not block.transactions:
            return [0 for _ in percentiles]
        base_fee = block.header.base_fee_per_gas
        receipts = block.get_receipts(self.chain.chaindb)
        used: list[tuple[int, int]] = []
        previous = 0
        for tx, receipt in zip(block.transactions, receipts, strict=True):
            used.append(
                (self._effective_price(tx, base_fee) - base_fee, receipt.gas_used - previous)
            )
            previous = receipt.gas_used
        used.sort()
        total = sum(gas for _, gas in used)
        answer = []
        for p in percentiles:
            threshold = total * p / 100
            running = 0
            tip = used[-1][0]
            for reward, gas in used:
                running += gas
                if running >= threshold:
                    tip = reward
                    break
            answer.append(tip)
        return answer

    @staticmethod
    def _effective_price(tx: SignedTransactionAPI, base_fee: int) -> int:
        if getattr(tx, "type_id", None) == 2 or hasattr(tx, "max_fee_per_gas"):
            try:
                return min(tx.max_fee_per_gas, base_fee + tx.max_priority_fee_per_gas)
            except AttributeError:
                pass
        return int(tx.gas_price)

    # -- calls --------------------------------------------------------------------

    def _spoof(self, call: Any, header: BlockHeaderAPI) -> Any:
        if not isinstance(call, dict):
            raise _invalid("the call must be an object")
        sender = _parse_address(call["from"], "from") if call.get("from") else ZERO_ADDRESS
        to = _parse_address(call["to"], "to") if call.get("to") else b""
        data = _parse_bytes(call.get("input", call.get("data")), "data")
        value = _parse_quantity(call.get("value", 0), "value")
        gas = _parse_quantity(call["gas"], "gas") if call.get("gas") else header.gas_limit
        state = self.chain.get_vm(header).state
        unsigned = self.chain.create_unsigned_transaction(
            nonce=state.get_nonce(sender),
            gas_price=0,
            gas=gas,
            to=to,
            value=value,
            data=data,
        )
        return SpoofTransaction(unsigned, from_=sender)

    def _execute(self, call: Any, header: BlockHeaderAPI) -> Any:
        spoof = self._spoof(call, header)
        try:
            with self.chain.get_vm(header).in_costless_state() as state:
                computation = state.costless_execute_transaction(spoof)
        except ValidationError as exc:
            if "balance" in str(exc):
                raise _rejected("insufficient funds for transfer") from None
            raise _rejected(f"invalid call: {exc}") from None
        if computation.is_error:
            raise self._execution_error(computation.error)
        return spoof, computation

    def rpc_eth_call(self, call: Any, tag: Any = "latest") -> str:
        _, computation = self._execute(call, self._header_at(tag))
        return _data(computation.output)

    def rpc_eth_estimateGas(self, call: Any, tag: Any = "latest") -> str:
        header = self._header_at(tag)
        # A revert or an out-of-gas at the block's whole gas limit is the call's own fault.
        spoof, _ = self._execute(call, header)
        try:
            return _hex(self.chain.estimate_gas(spoof, header))
        except VMError as exc:
            raise self._execution_error(exc) from None

    @staticmethod
    def _execution_error(error: Exception) -> EvmRpcError:
        if isinstance(error, Revert):
            data = bytes(error.args[0]) if error.args else b""
            reason = _revert_reason(data)
            message = f"execution reverted: {reason}" if reason else "execution reverted"
            return EvmRpcError(3, message, _data(data))
        return _rejected(f"execution failed: {type(error).__name__}")

    # -- sending ---------------------------------------------------------------------

    def rpc_eth_sendRawTransaction(self, raw: Any) -> str:
        tx = self._decode(_parse_bytes(raw, "transaction"))
        return _data(self._admit(tx))

    def _decode(self, raw: bytes) -> SignedTransactionAPI:
        if not raw:
            raise _invalid("empty transaction")
        if raw[0] == BLOB_TX_TYPE:
            raise _rejected("transaction type not supported")
        builder = self.chain.get_vm().get_transaction_builder()
        try:
            return builder.decode(raw)
        except UnrecognizedTransactionType:
            raise _rejected("transaction type not supported") from None
        except (rlp.DecodingError, rlp.DeserializationError, ValidationError, ValueError):
            raise _rejected("rlp: the transaction could not be decoded") from None

    def _admit(self, tx: SignedTransactionAPI) -> bytes:
        """Check ``tx`` as a node's pool does; pool it; mine at once under automine."""
        if tx.chain_id is None:
            raise _rejected("only replay-protected (EIP-155) transactions allowed over RPC")
        if tx.chain_id != self.chain_id:
            raise _rejected(f"invalid chain id for signer: have {tx.chain_id} want {self.chain_id}")
        try:
            tx.check_signature_validity()
            sender = bytes(tx.sender)
        except (ValidationError, ValueError, Exception):  # eth_keys raises its own BadSignature
            raise _rejected("invalid sender: the signature does not recover") from None
        try:
            tx.validate()
        except ValidationError as exc:
            raise _rejected(f"invalid transaction: {exc}") from None
        intrinsic = tx.intrinsic_gas
        if tx.gas < intrinsic:
            raise _rejected(f"intrinsic gas too low: gas {tx.gas}, minimum needed {intrinsic}")
        if tx.gas > self.chain.header.gas_limit:
            raise _rejected("exceeds block gas limit")
        max_fee, tip = _fees(tx)
        if tip > max_fee:
            raise _rejected(
                "max priority fee per gas higher than max fee per gas: "
                f"maxPriorityFeePerGas: {tip}, maxFeePerGas: {max_fee}"
            )
        if tx.hash in self._by_hash:
            raise _rejected("already known")
        state = self._state("latest")
        next_nonce = state.get_nonce(sender)
        if tx.nonce < next_nonce:
            raise _rejected(f"nonce too low: next nonce {next_nonce}, tx nonce {tx.nonce}")
        balance = state.get_balance(sender)
        cost = tx.gas * max_fee + tx.value
        if balance < cost:
            raise _rejected(
                "insufficient funds for gas * price + value: "
                f"address {to_checksum_address(sender)} have {balance} want {cost}"
            )
        base_fee = self._next_base_fee()
        if max_fee < base_fee:
            raise _rejected(
                f"max fee per gas less than block base fee: address {to_checksum_address(sender)}, "
                f"maxFeePerGas: {max_fee}, baseFee: {base_fee}"
            )
        queue = self._pool.setdefault(sender, {})
        old = queue.get(tx.nonce)
        if old is not None:
            old_max, old_tip = _fees(old.tx)
            bump = 100 + PRICE_BUMP_PERCENT
            if max_fee * 100 < old_max * bump or tip * 100 < old_tip * bump:
                raise _rejected("replacement transaction underpriced")
            del self._by_hash[old.tx.hash]
        elif len(queue) >= MAX_QUEUED_PER_SENDER:
            raise _rejected("txpool is full")
        entry = _Pooled(tx, sender)
        queue[tx.nonce] = entry
        self._by_hash[tx.hash] = entry
        if self.automine:
            self.mine_ready()
        return bytes(tx.hash)

    # -- mining ------------------------------------------------------------------------

    def _candidates(self) -> list[_Pooled]:
        """What the next block can take: each sender's pooled transactions from its
        next nonce on, while they pay the base fee and fit the block's gas."""
        state = self._state("latest")
        base_fee = self._next_base_fee()
        gas_left = self.chain.header.gas_limit
        picked: list[_Pooled] = []
        for sender, queue in self._pool.items():
            nonce = state.get_nonce(sender)
            while nonce in queue:
                entry = queue[nonce]
                if _fees(entry.tx)[0] < base_fee or entry.tx.gas > gas_left:
                    break
                picked.append(entry)
                gas_left -= entry.tx.gas
                nonce += 1
        return picked

    def mine_ready(self) -> None:
        """Mine blocks while the pool holds transactions that can run now."""
        while True:
            candidates = self._candidates()
            if not candidates:
                return
            self._mine_one(candidates)

    def mine(self, blocks: int = 1) -> None:
        for _ in range(max(1, blocks)):
            self._mine_one(self._candidates())

    def _mine_one(self, candidates: list[_Pooled]) -> None:
        """Mine one block with ``candidates`` (each leaves the pool, mined or dropped)."""
        parent = self._head()
        stamp = {
            "timestamp": max(int(self._clock()), parent.timestamp + 1),
            "mix_hash": keccak(bytes(parent.hash)),
        }
        for entry in candidates:
            self._drop(entry)
        try:
            self.chain.mine_all([e.tx for e in candidates], **stamp)
            return
        except ValidationError:
            pass  # one of them no longer runs (an earlier one spent the funds): one by one
        self.chain.header = self.chain.header.copy(timestamp=stamp["timestamp"])
        for entry in candidates:
            try:
                self.chain.apply_transaction(entry.tx)
            except ValidationError:
                continue  # dropped, as a node's pool drops a transaction that cannot run
        self.chain.mine_block(**stamp)

    def _drop(self, entry: _Pooled) -> None:
        queue = self._pool.get(entry.sender, {})
        if queue.get(entry.tx.nonce) is entry:
            del queue[entry.tx.nonce]
        if not queue:
            self._pool.pop(entry.sender, None)
        self._by_hash.pop(entry.tx.hash, None)

    # -- the faucet --------------------------------------------------------------------

    def _faucet_send(self, to: bytes | None, value: int, data: bytes, gas: int) -> str:
        state = self._state("latest")
        nonce = state.get_nonce(self._faucet_address)
        nonce = max([nonce, *(n + 1 for n in self._pool.get(self._faucet_address, {}))])
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "value": value,
            "data": data,
            "gas": gas,
            "maxPriorityFeePerGas": PRIORITY_FEE,
            "maxFeePerGas": 2 * self._next_base_fee() + PRIORITY_FEE,
        }
        if to is not None:
            tx["to"] = to_checksum_address(to)
        signed = Account.sign_transaction(tx, self._faucet.key)
        return _data(self._admit(self._decode(bytes(signed.raw_transaction))))

    def airdrop(self, address: str, wei: int) -> str:
        if not isinstance(wei, int) or wei <= 0:
            raise ValueError("an airdrop is a positive number of wei")
        to = _parse_address(address)
        gas = 21_000
        if self._state("latest").get_code(to):
            call = {"from": self._faucet.address, "to": _addr(to), "value": _hex(wei)}
            gas = _parse_quantity(self.rpc_eth_estimateGas(call), "gas")
        return self._faucet_send(to, wei, b"", gas)

    def mint_usdc(self, address: str, amount: int) -> str:
        if not isinstance(amount, int) or amount <= 0:
            raise ValueError("a mint is a positive number of base units")
        to = _parse_address(address)
        selector = keccak(text="mint(address,uint256)")[:4]
        data = selector + encode(["address", "uint256"], [to_checksum_address(to), amount])
        return self._faucet_send(usdc_address(self._faucet_address), 0, data, 100_000)

    # -- reading transactions, receipts, blocks ---------------------------------------

    def _mined(self, tx_hash: bytes) -> tuple[BlockAPI, int] | None:
        try:
            number, index = self.chain.chaindb.get_transaction_index(tx_hash)
        except TransactionNotFound:
            return None
        try:
            block = self.chain.get_canonical_block_by_number(number)
        except (BlockNotFound, HeaderNotFound):
            return None
        if index >= len(block.transactions) or block.transactions[index].hash != tx_hash:
            return None
        return block, index

    def rpc_eth_getTransactionByHash(self, tx_hash: Any) -> dict[str, Any] | None:
        wanted = _parse_bytes(tx_hash, "transaction hash")
        found = self._mined(wanted)
        if found is not None:
            block, index = found
            return self._tx_json(block.transactions[index], block, index)
        pooled = self._by_hash.get(wanted)
        return None if pooled is None else self._tx_json(pooled.tx, None, None)

    def _tx_json(
        self, tx: SignedTransactionAPI, block: BlockAPI | None, index: int | None
    ) -> dict[str, Any]:
        max_fee, tip = _fees(tx)
        type_id = tx.type_id if tx.type_id is not None else 0
        answer: dict[str, Any] = {
            "hash": _data(tx.hash),
            "type": _hex(type_id),
            "chainId": _hex(self.chain_id),
            "nonce": _hex(tx.nonce),
            "from": _addr(tx.sender),
            "to": _addr(tx.to) if tx.to else None,
            "value": _hex(tx.value),
            "gas": _hex(tx.gas),
            "input": _data(tx.data),
            "blockHash": _data(block.hash) if block else None,
            "blockNumber": _hex(block.number) if block else None,
            "transactionIndex": _hex(index) if index is not None else None,
            "r": _hex(tx.r),
            "s": _hex(tx.s),
        }
        if type_id == 0:
            answer["gasPrice"] = _hex(tx.gas_price)
            answer["v"] = _hex(tx.v)
        else:
            answer["maxFeePerGas"] = _hex(max_fee)
            answer["maxPriorityFeePerGas"] = _hex(tip)
            price = self._effective_price(tx, block.header.base_fee_per_gas) if block else max_fee
            answer["gasPrice"] = _hex(price)
            answer["v"] = _hex(tx.y_parity)
            answer["yParity"] = _hex(tx.y_parity)
            answer["accessList"] = [
                {"address": _addr(a), "storageKeys": [_data(k.to_bytes(32, "big")) for k in keys]}
                for a, keys in tx.access_list
            ]
        return answer

    def rpc_eth_getTransactionReceipt(self, tx_hash: Any) -> dict[str, Any] | None:
        found = self._mined(_parse_bytes(tx_hash, "transaction hash"))
        if found is None:
            return None
        block, index = found
        receipts = block.get_receipts(self.chain.chaindb)
        return self._receipt_json(block, index, receipts)

    def _receipt_json(
        self, block: BlockAPI, index: int, receipts: tuple[ReceiptAPI, ...]
    ) -> dict[str, Any]:
        tx = block.transactions[index]
        receipt = receipts[index]
        previous = receipts[index - 1].gas_used if index else 0
        first_log = sum(len(r.logs) for r in receipts[:index])
        sender = bytes(tx.sender)
        common = {
            "transactionHash": _data(tx.hash),
            "transactionIndex": _hex(index),
            "blockHash": _data(block.hash),
            "blockNumber": _hex(block.number),
        }
        type_id = tx.type_id if tx.type_id is not None else 0
        return {
            **common,
            "type": _hex(type_id),
            "from": _addr(sender),
            "to": _addr(tx.to) if tx.to else None,
            "contractAddress": (
                None if tx.to else _addr(generate_contract_address(Address(sender), tx.nonce))
            ),
            "cumulativeGasUsed": _hex(receipt.gas_used),
            "gasUsed": _hex(receipt.gas_used - previous),
            "effectiveGasPrice": _hex(self._effective_price(tx, block.header.base_fee_per_gas)),
            "status": "0x1" if receipt.state_root == b"\x01" else "0x0",
            "logsBloom": _data(receipt.bloom.to_bytes(256, "big")),
            "logs": [
                {
                    **common,
                    "address": _addr(log.address),
                    "topics": [_data(t.to_bytes(32, "big")) for t in log.topics],
                    "data": _data(log.data),
                    "logIndex": _hex(first_log + i),
                    "removed": False,
                }
                for i, log in enumerate(receipt.logs)
            ],
        }

    def rpc_eth_getBlockByNumber(self, tag: Any, full: Any = False) -> dict[str, Any] | None:
        try:
            header = self._header_at(tag)
        except EvmRpcError:
            if isinstance(tag, str) and tag.startswith("0x"):
                return None
            raise
        return self._block_json(self.chain.get_canonical_block_by_number(header.block_number), full)

    def rpc_eth_getBlockByHash(self, block_hash: Any, full: Any = False) -> dict[str, Any] | None:
        wanted = _parse_bytes(block_hash, "block hash")
        try:
            block = self.chain.get_block_by_hash(wanted)
        except (BlockNotFound, HeaderNotFound):
            return None
        return self._block_json(block, full)

    def _block_json(self, block: BlockAPI, full: Any) -> dict[str, Any]:
        header = block.header
        answer: dict[str, Any] = {
            "number": _hex(header.block_number),
            "hash": _data(header.hash),
            "parentHash": _data(header.parent_hash),
            "nonce": _data(header.nonce),
            "mixHash": _data(header.mix_hash),
            "sha3Uncles": _data(header.uncles_hash),
            "logsBloom": _data(header.bloom.to_bytes(256, "big")),
            "transactionsRoot": _data(header.transaction_root),
            "stateRoot": _data(header.state_root),
            "receiptsRoot": _data(header.receipt_root),
            "miner": _addr(header.coinbase),
            "difficulty": _hex(header.difficulty),
            "totalDifficulty": "0x0",
            "extraData": _data(header.extra_data),
            "size": _hex(len(rlp.encode(block))),
            "gasLimit": _hex(header.gas_limit),
            "gasUsed": _hex(header.gas_used),
            "timestamp": _hex(header.timestamp),
            "baseFeePerGas": _hex(header.base_fee_per_gas),
            "uncles": [],
            "withdrawals": [],
        }
        if full:
            answer["transactions"] = [
                self._tx_json(tx, block, i) for i, tx in enumerate(block.transactions)
            ]
        else:
            answer["transactions"] = [_data(tx.hash) for tx in block.transactions]
        return answer


def usdc_address(faucet: bytes) -> bytes:
    """Where the faucet's first transaction (nonce 0) deployed the test USDC."""
    return bytes(generate_contract_address(Address(faucet), 0))


def _fees(tx: SignedTransactionAPI) -> tuple[int, int]:
    """(max fee per gas, max priority fee per gas); a legacy tx's gas price is both."""
    max_fee = getattr(tx, "max_fee_per_gas", None)
    if max_fee is None:
        return int(tx.gas_price), int(tx.gas_price)
    return int(max_fee), int(tx.max_priority_fee_per_gas)


def _revert_reason(data: bytes) -> str | None:
    if data[:4] != keccak(text="Error(string)")[:4]:
        return None
    try:
        from eth_abi import decode

        return str(decode(["string"], data[4:])[0])
    except Exception:
        return None
