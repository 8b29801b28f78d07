"""A loopback Solana JSON-RPC view of the ``local`` chain, for an x402 facilitator.

The local chain lives in the daemon's process; a facilitator must verify and
submit the payments it co-signs, so the daemon answers the few methods one
needs, in the shapes of Solana's JSON-RPC reference: getHealth,
getLatestBlockhash, sendTransaction (base64), getSignatureStatuses,
getBalance, getAccountInfo (base64), requestAirdrop. The chain checks every
signature as it does for the daemon's own sends; no key of the daemon is used
or shown. A transaction that lands is saved to the ledger in the same step as
the PAYMENT record whose signature it carries (docs/notes/x402.md).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from solders.transaction import VersionedTransaction

from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain.base import parse_address
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.domain.state import DaemonState

INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
SEND_FAILED = -32002
MAX_AIRDROP = 10 * 10**9


class RpcFault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def local_chain(state: DaemonState) -> LocalChain:
    chain = state.chains.get("local")
    if state.settings.network != "local" or not isinstance(chain, LocalChain):
        raise WaiaasError("NOT_FOUND", "The local JSON-RPC exists on network local only.")
    return chain


async def call(state: DaemonState, method: str, params: list[Any]) -> Any:
    chain = local_chain(state)
    handler = _METHODS.get(method)
    if handler is None:
        raise RpcFault(METHOD_NOT_FOUND, f"Method not found: {method[:64]}")
    return await handler(state, chain, params)


def _context(value: Any) -> dict[str, Any]:
    return {"context": {"slot": 0, "apiVersion": "waiaas-local"}, "value": value}


def _arg(params: list[Any], index: int) -> str:
    if len(params) <= index or not isinstance(params[index], str):
        raise RpcFault(INVALID_PARAMS, f"Invalid params: argument {index} must be a string")
    return params[index]


def _address(params: list[Any], index: int = 0) -> str:
    value = _arg(params, index)
    try:
        parse_address(value)
    except WaiaasError:
        raise RpcFault(INVALID_PARAMS, "Invalid param: Invalid") from None
    return value


async def _health(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    return "ok"


async def _blockhash(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    blockhash = await chain.fresh_blockhash()
    return _context({"blockhash": str(blockhash), "lastValidBlockHeight": 150})


async def _balance(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    return _context(await chain.get_balance(_address(params)))


async def _account(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    snap = chain.snapshot(_address(params))
    if snap.lamports == 0:
        return _context(None)
    return _context(
        {
            "lamports": snap.lamports,
            "data": [base64.b64encode(snap.data).decode(), "base64"],
            "owner": snap.owner,
            "executable": snap.executable,
            "rentEpoch": snap.rent_epoch,
            "space": len(snap.data),
        }
    )


async def _send(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    options = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
    if options.get("encoding", "base58") != "base64":
        raise RpcFault(INVALID_PARAMS, "Invalid params: only base64 encoding is served")
    try:
        raw = base64.b64decode(_arg(params, 0), validate=True)
    except binascii.Error:
        raise RpcFault(INVALID_PARAMS, "Invalid params: not base64") from None
    payment = await state.db.payment_signed_by(_cosigners(raw))
    if payment is None:
        return await _land(state, chain, raw)
    # The payer's lock, as its own sends take it from submit to saving their accounts:
    # otherwise a send of the same wallet could save its (older or newer) snapshot of
    # the wallet's token account after this one, and a restart would load the stale one.
    async with state.wallet_lock(payment.wallet_id):
        return await _land(state, chain, raw)


def _cosigners(raw: bytes) -> list[str]:
    """Every signature after the fee payer's: a payer's signature if this is a payment."""
    try:
        return [str(s) for s in VersionedTransaction.from_bytes(raw).signatures[1:]]
    except ValueError:
        return []  # submit_raw answers the error


async def _land(state: DaemonState, chain: LocalChain, raw: bytes) -> str:
    try:
        outcome, signatures = await chain.submit_raw(raw)
    except WaiaasError as exc:
        raise RpcFault(INVALID_PARAMS, f"Invalid params: {exc.message}") from None
    if outcome.status != "CONFIRMED":
        raise RpcFault(SEND_FAILED, f"Transaction simulation failed: {outcome.error}")
    # The ledger and the payment it settles are saved together.
    await state.db.settle_payment_landed(
        signatures[1:], outcome.signature, outcome.accounts, state.now()
    )
    return outcome.signature


async def _statuses(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    if not params or not isinstance(params[0], list) or len(params[0]) > 256:
        raise RpcFault(INVALID_PARAMS, "Invalid params: a list of up to 256 signatures")
    values: list[Any] = []
    for signature in params[0]:
        outcome = await chain.status(signature) if isinstance(signature, str) else None
        if outcome is None:
            values.append(None)
            continue
        failed = outcome.status == "FAILED"
        values.append(
            {
                "slot": 0,
                "confirmations": None,
                "err": outcome.error if failed else None,
                "status": {"Err": outcome.error} if failed else {"Ok": None},
                "confirmationStatus": "finalized",
            }
        )
    return _context(values)


async def _airdrop(state: DaemonState, chain: LocalChain, params: list[Any]) -> Any:
    address = _address(params)
    amount = params[1] if len(params) > 1 else None
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AIRDROP:
        raise RpcFault(INVALID_PARAMS, f"Invalid params: lamports must be 1 to {MAX_AIRDROP}")
    outcome = await chain.airdrop(address, amount)
    await state.db.save_ledger_accounts(outcome.accounts)
    return outcome.signature


_METHODS = {
    "getHealth": _health,
    "getLatestBlockhash": _blockhash,
    "getBalance": _balance,
    "getAccountInfo": _account,
    "sendTransaction": _send,
    "getSignatureStatuses": _statuses,
    "requestAirdrop": _airdrop,
}


# -- evm-local: the embedded EVM's JSON-RPC, for an x402 facilitator ------------------

# What a facilitator settling EIP-3009 payments needs: read, estimate, send, follow.
EVM_METHODS = frozenset(
    {
        "eth_chainId",
        "eth_blockNumber",
        "eth_getBalance",
        "eth_getTransactionCount",
        "eth_getCode",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_feeHistory",
        "eth_estimateGas",
        "eth_call",
        "eth_sendRawTransaction",
        "eth_getTransactionReceipt",
        "eth_getTransactionByHash",
        "eth_getBlockByNumber",
    }
)
EVM_AIRDROP = "waiaas_requestAirdrop"
MAX_EVM_AIRDROP = 10 * 10**18  # 10 test ETH: evm-local's coins are worth nothing


async def call_evm(state: DaemonState, method: str, params: list[Any]) -> Any:
    """Ethereum JSON-RPC on the embedded ``evm-local`` chain (the node checks everything
    a real node does); ``waiaas_requestAirdrop(address, wei)`` is its faucet."""
    from waiaas_daemon.chain.evm import EvmRpcError

    try:
        chain: Any = state.chain_for("evm-local")
    except WaiaasError:
        raise WaiaasError("NOT_FOUND", "evm-local is not used by this daemon.") from None
    node = chain.node
    try:
        if method == EVM_AIRDROP:
            address, wei = _arg(params, 0), params[1] if len(params) > 1 else None
            if not isinstance(wei, int) or not 0 < wei <= MAX_EVM_AIRDROP:
                raise RpcFault(
                    INVALID_PARAMS, f"Invalid params: wei must be 1 to {MAX_EVM_AIRDROP}"
                )
            return await node.airdrop(address, wei)
        if method not in EVM_METHODS:
            raise RpcFault(METHOD_NOT_FOUND, f"Method not found: {method[:64]}")
        return await node.request(method, params)
    except EvmRpcError as exc:
        raise RpcFault(exc.code, exc.message) from None
