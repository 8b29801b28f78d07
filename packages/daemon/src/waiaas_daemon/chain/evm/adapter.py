"""``EvmChain``: one EVM network behind the chain interface, over any ``EvmNode``.

- Fees: EIP-1559 (type 2) transactions. The tip is the median reward of the
  last blocks (``eth_feeHistory``, at least ``eth_maxPriorityFeePerGas`` when the
  node answers it); ``maxFeePerGas`` = 2 x the next base fee + tip, capped at the
  owner's ceiling (``[evm.max_fee_per_gas]``). When the base fee plus the tip is
  above the ceiling the send is refused with a retryable CHAIN_ERROR (a queued
  send waits and is tried again): it never offers more than the ceiling.
- Gas: ``eth_estimateGas`` with a 20 % margin (a plain transfer to an account
  without code costs exactly 21000 and gets no margin). A transfer the estimate
  says would revert is not signed.
- Chain id: every transaction signs the network's chain id (EIP-155 through
  the type 2 envelope); the node's ``eth_chainId`` is checked at first use, so a
  misconfigured URL (a testnet's node for a mainnet) is refused before signing.
- Nonces: ``sequence_floor`` answers the address's count at the latest block;
  the domain takes the first nonce at or above it its records do not hold.
- Status: SUBMITTED until the receipt is ``confirmations`` blocks deep; a
  receipt that disappears (a reorg) is SUBMITTED again, or unknown (None) when
  the node forgot the transaction, and the domain then broadcasts the same bytes.
  A reverted transaction is FAILED with its reason and the fee it paid.
- Stuck: ``bump_fee`` re-signs the same nonce and contents with both fee
  fields raised by at least 12.5 % (nodes want 10 %), never above the ceiling.
- Memos are kept in the daemon's record only: bytes in a transaction's data
  would be a function call to a contract recipient.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.typed_transactions import TypedTransaction
from eth_utils import to_checksum_address
from hexbytes import HexBytes

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_AMOUNT

from ..interface import (
    MintInfo,
    Outcome,
    PreparedTransfer,
    TokenBalance,
    TokenTransferCost,
)
from .address import checksum
from .node import EvmNode, EvmNodeUnavailable, EvmRpcError

log = logging.getLogger("waiaas.evm")

ERC20 = "erc20"
PLAIN_TRANSFER_GAS = 21000
# What a token transfer's fee check assumes before the transfer's own estimate
# (an ERC-20 transfer to a new holder costs about 52000 on USDC).
TOKEN_TRANSFER_GAS = 100_000
GAS_MARGIN_PERCENT = 20
BUMP_PERCENT = 125  # x/100 of the previous fee, per field, on a replacement
FEE_HISTORY_BLOCKS = 5
# How long one fee quote serves (a send asks for the balance check and for signing).
FEE_QUOTE_SECONDS = 2.0
# After a broadcast, how long the send's answer waits for the first receipt, looking
# every RECEIPT_POLL s: a node that mines on arrival (anvil, the embedded node) or a
# fast L2 answers CONFIRMED at once; on a slower chain the send answers SUBMITTED.
RECEIPT_WAIT = 2.0
RECEIPT_POLL = 0.1
SELECTOR = {
    "transfer": bytes.fromhex("a9059cbb"),
    "balanceOf": bytes.fromhex("70a08231"),
    "decimals": bytes.fromhex("313ce567"),
    "symbol": bytes.fromhex("95d89b41"),
    "totalSupply": bytes.fromhex("18160ddd"),
}
ERROR_STRING = "08c379a0"  # Error(string)
PANIC = "4e487b71"  # Panic(uint256)
# Answers to a broadcast meaning the node has this transaction already.
ALREADY_SENT = ("already known", "known transaction", "already imported", "alreadyknown")
NONCE_USED = ("nonce too low", "nonce is too low", "oldnonce")

Airdrop = Callable[[str, int], Awaitable[str]]
Mint = Callable[[str, str, int], Awaitable[str]]


class EvmChain:
    """An EVM network: ``node`` answers its JSON-RPC; the rest is the network's settings.

    ``chain_id`` None takes the node's own; otherwise the node must answer that
    id. ``airdrop`` (the embedded node's faucet) makes airdrops possible: it
    credits an address and answers the transaction hash; ``mint`` (a test
    token's minter) does the same for token airdrops.
    """

    def __init__(
        self,
        network: str,
        node: EvmNode,
        *,
        chain_id: int | None,
        native_symbol: str = "ETH",
        confirmations: int = 1,
        max_fee_per_gas: int | None = None,
        replace_after: int | None = 180,
        airdrop: Airdrop | None = None,
        mint: Mint | None = None,
        clock: Callable[[], float] = time.monotonic,
        receipt_wait: float | None = None,
        sleep: Callable[[float], Awaitable[Any]] = anyio.sleep,
    ) -> None:
        self.network = network
        self.node = node
        self.native_symbol = native_symbol
        self.native_decimals = 18
        self.confirmations = max(1, confirmations)
        self.max_fee_per_gas = max_fee_per_gas
        self.replace_after = replace_after
        self.airdrop_allowed = airdrop is not None
        self._airdrop = airdrop
        self._mint = mint
        # Token airdrops (the send path looks for ``mint_to``): a test token's minter only.
        self.mint_to: Callable[[str, str, int], Awaitable[Outcome]] | None = (
            self._mint_to if mint is not None else None
        )
        self._expected_chain_id = chain_id
        self._chain_id: int | None = None
        self._tokens: dict[str, MintInfo] = {}
        self._clock = clock
        self._receipt_wait = RECEIPT_WAIT if receipt_wait is None else receipt_wait
        self._sleep = sleep
        self._quote: tuple[float, int, int] | None = None  # (when, base fee, tip)

    # -- reads -------------------------------------------------------------------

    async def chain_id(self) -> int:
        if self._chain_id is None:
            answered = _int(await self._call("eth_chainId", []), "eth_chainId")
            expected = self._expected_chain_id
            if expected is not None and answered != expected:
                raise WaiaasError(
                    "CHAIN_ERROR",
                    f"The {self.network} node answers chain id {answered}, not {expected}: "
                    "its RPC URL is another network's. Nothing was signed.",
                )
            self._chain_id = answered
        return self._chain_id

    async def get_balance(self, address: str) -> int:
        address = checksum(address, "address")
        return _int(await self._call("eth_getBalance", [address, "latest"]), "eth_getBalance")

    async def transfer_fee(self) -> int:
        max_fee, _tip = await self.fees()
        return PLAIN_TRANSFER_GAS * max_fee

    async def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a transaction signed now.

        A quote is reused for ``FEE_QUOTE_SECONDS`` (the balance check and the signing
        of one send ask twice); the ceiling is checked on every use.
        """
        now = self._clock()
        if self._quote is None or now - self._quote[0] > FEE_QUOTE_SECONDS:
            self._quote = (now, *await self._quote_fees())
        _, base, tip = self._quote
        ceiling = self.max_fee_per_gas
        if ceiling is not None and base + tip > ceiling:
            raise WaiaasError(
                "CHAIN_ERROR",
                f"The {self.network} fee is {base + tip} wei per gas (base {base} + tip {tip}), "
                f"above the owner's ceiling of {ceiling} ([evm.max_fee_per_gas]); nothing was "
                "signed. Try again when fees fall, or raise the ceiling.",
            )
        max_fee = 2 * base + tip
        if ceiling is not None:
            max_fee = min(max_fee, ceiling)
        return max_fee, min(tip, max_fee)

    async def _quote_fees(self) -> tuple[int, int]:
        """(the next block's base fee, the tip) from the node."""
        history = await self._call("eth_feeHistory", [hex(FEE_HISTORY_BLOCKS), "latest", [50]])
        try:
            base = int(history["baseFeePerGas"][-1], 16)
            rewards = sorted(int(r[0], 16) for r in history.get("reward") or [] if r)
        except (KeyError, IndexError, TypeError, ValueError):
            raise _unexpected("eth_feeHistory") from None
        tip = rewards[len(rewards) // 2] if rewards else 0
        # Not every node answers it; the history's median stands then.
        with contextlib.suppress(WaiaasError):
            tip = max(tip, _int(await self._call("eth_maxPriorityFeePerGas", []), "tip"))
        return base, tip

    async def sequence_floor(self, address: str) -> int | None:
        # The count at the latest block, not "pending": a gap below queued transactions
        # (one the node refused) is then the first nonce the daemon's records do not hold.
        return _int(
            await self._call("eth_getTransactionCount", [address, "latest"]),
            "eth_getTransactionCount",
        )

    async def status(self, signature: str) -> Outcome | None:
        receipt = await self._call("eth_getTransactionReceipt", [signature])
        if receipt is None:
            known = await self._call("eth_getTransactionByHash", [signature])
            if known is None:
                return None
            return Outcome(signature, "SUBMITTED", note="waiting in the mempool")
        try:
            block = int(receipt["blockNumber"], 16)
            succeeded = int(receipt["status"], 16) == 1
            fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
        except (KeyError, TypeError, ValueError):
            raise _unexpected("eth_getTransactionReceipt") from None
        # A receipt is one block deep by itself: the head is asked only for more.
        depth = 1
        if self.confirmations > 1:
            head = _int(await self._call("eth_blockNumber", []), "eth_blockNumber")
            depth = head - block + 1
        if depth < self.confirmations:
            note = f"mined in block {block}, {max(depth, 0)} of {self.confirmations} confirmations"
            return Outcome(signature, "SUBMITTED", fee=fee, note=note)
        if succeeded:
            return Outcome(signature, "CONFIRMED", fee=fee)
        reason = await self._revert_reason(signature, block)
        return Outcome(signature, "FAILED", f"reverted: {reason}", fee=fee)

    # -- signing and sending ---------------------------------------------------------

    async def prepare_transfer(
        self,
        signer: Any,
        to: str,
        amount: int,
        memo: str | None,
        *,
        sequence: int | None = None,
        record: str | None = None,
    ) -> PreparedTransfer:
        to = checksum(to, "to")
        _check_amount(amount)
        return await self._sign(signer, to, amount, b"", sequence)

    async def prepare_token_transfer(
        self,
        signer: Any,
        to_owner: str,
        mint: str,
        amount: int,
        decimals: int,
        program: str,
        memo: str | None,
        *,
        sequence: int | None = None,
        record: str | None = None,
    ) -> PreparedTransfer:
        to_owner = checksum(to_owner, "to")
        mint = checksum(mint, "token")
        _check_amount(amount)
        data = SELECTOR["transfer"] + abi_encode(["address", "uint256"], [to_owner, amount])
        return await self._sign(signer, mint, 0, data, sequence)

    async def _sign(
        self, signer: Any, to: str, value: int, data: bytes, sequence: int | None
    ) -> PreparedTransfer:
        if sequence is None:
            raise WaiaasError("CHAIN_ERROR", "An EVM transaction needs its nonce.")
        chain_id = await self.chain_id()
        max_fee, tip = await self.fees()
        gas = await self._gas(str(signer.address), to, value, data)
        tx = {
            "type": 2,
            "chainId": chain_id,
            "nonce": sequence,
            "to": to,
            "value": value,
            "data": data,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
        }
        return _signed(signer, tx, sequence)

    async def _gas(self, sender: str, to: str, value: int, data: bytes) -> int:
        call = {"from": sender, "to": to, "value": hex(value), "data": "0x" + data.hex()}
        try:
            estimate = _int(await self.node.request("eth_estimateGas", [call]), "eth_estimateGas")
        except EvmRpcError as exc:
            raise WaiaasError(
                "INVALID_REQUEST",
                f"The {self.network} node says this transfer would fail, so it was not "
                f"signed: {_rpc_reason(exc)}",
            ) from None
        except EvmNodeUnavailable as exc:
            raise WaiaasError("CHAIN_ERROR", str(exc)) from None
        if estimate == PLAIN_TRANSFER_GAS and not data:
            return estimate
        return estimate + estimate * GAS_MARGIN_PERCENT // 100

    async def submit(self, prepared: PreparedTransfer) -> Outcome:
        try:
            answered = await self.node.request(
                "eth_sendRawTransaction", ["0x" + prepared.raw.hex()]
            )
        except EvmNodeUnavailable as exc:
            raise WaiaasError("CHAIN_ERROR", str(exc)) from None
        except EvmRpcError as exc:
            text = exc.message.lower()
            if not any(m in text for m in (*ALREADY_SENT, *NONCE_USED)):
                # Refused outright (funds, fee too low, bad signature): it never entered
                # a mempool, so its nonce is free again.
                return Outcome(prepared.signature, "FAILED", f"refused: {exc.message}")
            log.info("broadcast of %s: %s; asking for its receipt", prepared.signature, text)
            answered = prepared.signature
        if isinstance(answered, str) and answered.lower() != prepared.signature.lower():
            log.warning("eth_sendRawTransaction answered another hash than the transaction's")
        outcome = await self._first_receipt(prepared.signature)
        return outcome or Outcome(prepared.signature, "SUBMITTED", note="broadcast")

    async def _first_receipt(self, signature: str) -> Outcome | None:
        """The transaction's status, after waiting up to ``receipt_wait`` s for its block."""
        polls = int(self._receipt_wait / RECEIPT_POLL)
        outcome = await self.status(signature)
        for _ in range(polls):
            if outcome is None or outcome.status != "SUBMITTED" or outcome.fee is not None:
                break  # unknown, settled, or mined and counting confirmations
            await self._sleep(RECEIPT_POLL)
            outcome = await self.status(signature)
        return outcome

    async def bump_fee(self, signer: Any, raw: bytes) -> PreparedTransfer | None:
        try:
            old = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        except Exception:
            return None
        max_fee, tip = await self._bumpable_fees()
        new_tip = max(old["maxPriorityFeePerGas"] * BUMP_PERCENT // 100 + 1, tip)
        new_max = max(old["maxFeePerGas"] * BUMP_PERCENT // 100 + 1, max_fee, new_tip)
        ceiling = self.max_fee_per_gas
        if ceiling is not None and new_max > ceiling:
            log.warning(
                "%s: a stuck transaction needs %d wei per gas, above the ceiling %d",
                self.network,
                new_max,
                ceiling,
            )
            return None
        tx = {
            "type": 2,
            "chainId": old["chainId"],
            "nonce": old["nonce"],
            "to": to_checksum_address(old["to"]),
            "value": old["value"],
            "data": bytes(old["data"]),
            "gas": old["gas"],
            "maxFeePerGas": new_max,
            "maxPriorityFeePerGas": new_tip,
        }
        return _signed(signer, tx, old["nonce"])

    async def _bumpable_fees(self) -> tuple[int, int]:
        try:
            return await self.fees()
        except WaiaasError:
            return 0, 0  # above the ceiling now: the bump below decides

    async def airdrop(self, address: str, amount: int) -> Outcome:
        if self._airdrop is None:
            raise WaiaasError(
                "INVALID_REQUEST", f"Airdrops are not available on {self.network}; only evm-local."
            )
        address = checksum(address, "address")
        _check_amount(amount)
        signature = await self._airdrop(address, amount)
        return await self.status(signature) or Outcome(signature, "SUBMITTED")

    async def _mint_to(self, address: str, token: str, amount: int) -> Outcome:
        assert self._mint is not None
        address = checksum(address, "address")
        _check_amount(amount)
        signature = await self._mint(address, checksum(token, "token"), amount)
        return await self.status(signature) or Outcome(signature, "SUBMITTED")

    # -- ERC-20 ------------------------------------------------------------------------

    async def mint_info(self, mint: str) -> MintInfo:
        mint = checksum(mint, "token")
        cached = self._tokens.get(mint)
        if cached is not None:
            return cached
        code = await self._call("eth_getCode", [mint, "latest"])
        if not isinstance(code, str) or code in ("0x", "0x0", ""):
            raise WaiaasError("TOKEN_NOT_FOUND", f"token: no contract at {mint} on {self.network}.")
        try:
            decimals = abi_decode(["uint8"], await self._read(mint, "decimals"))[0]
            supply = abi_decode(["uint256"], await self._read(mint, "totalSupply"))[0]
        except (WaiaasError, ValueError, Exception) as exc:
            if isinstance(exc, WaiaasError) and exc.code == "CHAIN_ERROR":
                raise
            raise WaiaasError(
                "TOKEN_NOT_FOUND", f"token: the contract at {mint} is not an ERC-20 token."
            ) from None
        info = MintInfo(
            mint=mint,
            decimals=int(decimals),
            program=ERC20,
            supply=int(supply),
            mint_authority=None,
            symbol=await self._symbol(mint),
        )
        self._tokens[mint] = info
        return info

    async def token_balance(self, owner: str, mint: str, program: str) -> int:
        owner = checksum(owner, "address")
        mint = checksum(mint, "token")
        data = await self._read(mint, "balanceOf", abi_encode(["address"], [owner]))
        try:
            return int(abi_decode(["uint256"], data)[0])
        except Exception:
            raise _unexpected("balanceOf") from None

    async def token_transfer_cost(
        self, to_owner: str, mint: str, program: str
    ) -> TokenTransferCost:
        to_owner = checksum(to_owner, "to")
        max_fee, _tip = await self.fees()
        return TokenTransferCost(TOKEN_TRANSFER_GAS * max_fee, 0, to_owner)

    async def token_accounts(self, owner: str, known: tuple[str, ...] = ()) -> list[TokenBalance]:
        found = []
        for mint in known:
            try:
                info = await self.mint_info(mint)
            except WaiaasError as exc:
                if exc.code != "TOKEN_NOT_FOUND":
                    raise
                continue  # a registry entry with no token on this chain: nothing held
            amount = await self.token_balance(owner, info.mint, ERC20)
            found.append(TokenBalance(info.mint, info.mint, amount, info.decimals, ERC20))
        return found

    async def aclose(self) -> None:
        await self.node.aclose()

    # -- helpers ---------------------------------------------------------------------

    async def _read(self, contract: str, function: str, args: bytes = b"") -> bytes:
        call = {"to": contract, "data": "0x" + (SELECTOR[function] + args).hex()}
        answer = await self._call("eth_call", [call, "latest"])
        if not isinstance(answer, str) or not answer.startswith("0x"):
            raise _unexpected("eth_call")
        return bytes.fromhex(answer[2:])

    async def _symbol(self, mint: str) -> str | None:
        try:
            data = await self._read(mint, "symbol")
        except WaiaasError:
            return None
        try:
            return str(abi_decode(["string"], data)[0])[:16] or None
        except Exception:
            text = data[:32].rstrip(b"\0").decode("utf-8", "replace")
            return text[:16] or None

    async def _revert_reason(self, signature: str, block: int) -> str:
        """The revert data of the mined transaction, replayed on the state before its block."""
        try:
            tx = await self.node.request("eth_getTransactionByHash", [signature])
            call = {k: tx[k] for k in ("from", "to", "value", "input", "gas") if k in tx}
            call["data"] = call.pop("input", "0x")
            await self.node.request("eth_call", [call, hex(max(block - 1, 0))])
        except EvmRpcError as exc:
            return _rpc_reason(exc)
        except (EvmNodeUnavailable, KeyError, TypeError):
            return "the transaction reverted (reason unavailable)"
        return "the transaction reverted (it succeeds when replayed alone)"

    async def _call(self, method: str, params: list[Any]) -> Any:
        try:
            return await self.node.request(method, params)
        except EvmNodeUnavailable as exc:
            raise WaiaasError("CHAIN_ERROR", str(exc)) from None
        except EvmRpcError as exc:
            raise WaiaasError(
                "CHAIN_ERROR", f"The {self.network} node refused {method}: {exc.message[:200]}"
            ) from None


def _signed(signer: Any, tx: dict[str, Any], nonce: int) -> PreparedTransfer:
    signed = signer.sign_transaction(tx)
    return PreparedTransfer(
        signature="0x" + bytes(signed.hash).hex(),
        raw=bytes(signed.raw_transaction),
        sequence=nonce,
    )


def _check_amount(amount: int) -> None:
    if not 0 < amount <= MAX_AMOUNT:
        raise WaiaasError("INVALID_REQUEST", "amount must be a positive integer below 2^64.")


def _int(value: Any, method: str) -> int:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise _unexpected(method)


def _unexpected(method: str) -> WaiaasError:
    return WaiaasError("CHAIN_ERROR", f"The EVM node answered {method} with something unexpected.")


def _rpc_reason(exc: EvmRpcError) -> str:
    """A revert's reason string, a panic code, a custom error's selector, or the node's words."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        selector, body = data[2:10], data[10:]
        # Undecodable data: the selector says enough.
        with contextlib.suppress(Exception):
            if selector == ERROR_STRING:
                return str(abi_decode(["string"], bytes.fromhex(body))[0])
            if selector == PANIC:
                return f"panic {int(abi_decode(['uint256'], bytes.fromhex(body))[0]):#x}"
        return f"{exc.message} (error 0x{selector})"
    return exc.message[:200]
