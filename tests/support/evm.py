"""Talking to an EVM node the way a wallet does: transactions signed with eth-account,
calls ABI-encoded with eth-abi, EIP-712 authorizations for the test USDC.

Every helper takes an ``EvmNode`` (anvil through ``JsonRpcNode``, or the
embedded node), so one test runs against both.
"""

from __future__ import annotations

from typing import Any

import anyio
from eth_abi import decode, encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

__all__ = ["keccak"]

from waiaas_daemon.chain.evm import contracts
from waiaas_daemon.chain.evm.node import EvmNode

ERROR_SELECTOR = keccak(text="Error(string)")[:4]
GWEI = 10**9


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, *args: Any) -> bytes:
    """``transfer(address,uint256)`` and its arguments as call data."""
    types = signature[signature.index("(") + 1 : -1]
    type_list = [t for t in types.split(",") if t]
    return selector(signature) + encode(type_list, list(args))


def revert_reason(data: Any) -> str | None:
    """The reason string of ``Error(string)`` revert data, else None."""
    raw = bytes.fromhex(str(data).removeprefix("0x")) if isinstance(data, str) else b""
    if not raw.startswith(ERROR_SELECTOR):
        return None
    return str(decode(["string"], raw[4:])[0])


def new_key() -> tuple[str, str]:
    """A fresh (private key hex, checksum address)."""
    account = Account.create()
    return account.key.hex(), account.address


async def chain_id(node: EvmNode) -> int:
    return int(await node.request("eth_chainId", []), 16)


async def balance(node: EvmNode, address: str) -> int:
    return int(await node.request("eth_getBalance", [address, "latest"]), 16)


async def sign_tx(
    node: EvmNode,
    key: str,
    *,
    to: str | None = None,
    value: int = 0,
    data: bytes = b"",
    nonce: int | None = None,
    gas: int | None = None,
    chain: int | None = None,
    max_fee: int | None = None,
    priority_fee: int = GWEI,
) -> tuple[bytes, str]:
    """An EIP-1559 transaction signed by ``key``: (raw bytes, hash)."""
    sender = Account.from_key(key).address
    if nonce is None:
        nonce = int(await node.request("eth_getTransactionCount", [sender, "pending"]), 16)
    if chain is None:
        chain = await chain_id(node)
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": chain,
        "nonce": nonce,
        "value": value,
        "data": data,
        "maxPriorityFeePerGas": priority_fee,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    if max_fee is None:
        latest = await node.request("eth_getBlockByNumber", ["latest", False])
        max_fee = 2 * int(latest["baseFeePerGas"], 16) + priority_fee
    tx["maxFeePerGas"] = max_fee
    if gas is None:
        estimate = {"from": sender, "value": hex(value), "data": "0x" + data.hex()}
        if to is not None:
            estimate["to"] = to
        gas = int(await node.request("eth_estimateGas", [estimate]), 16)
    tx["gas"] = gas
    signed = Account.sign_transaction(tx, key)
    return bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex()


async def send(node: EvmNode, key: str, **tx: Any) -> dict[str, Any]:
    """Sign, broadcast, and answer the receipt (the node automines)."""
    raw, tx_hash = await sign_tx(node, key, **tx)
    answered = await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
    assert answered == tx_hash
    return await receipt_of(node, tx_hash)


async def receipt_of(node: EvmNode, tx_hash: str, polls: int = 1000) -> dict[str, Any]:
    """The receipt of a transaction the node mines by itself.

    anvil's automine answers ``eth_sendRawTransaction`` once the transaction is in
    its pool and mines it a moment later (on a loaded machine the receipt is not
    always there at once); the embedded node mines before it answers.
    """
    for _ in range(polls):
        receipt = await node.request("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return dict(receipt)
        await anyio.sleep(0.01)
    raise AssertionError(f"the node did not mine {tx_hash}")


async def deploy(node: EvmNode, key: str, name: str, constructor: bytes = b"") -> str:
    """Deploy a test contract; answer its checksum address."""
    receipt = await send(node, key, data=contracts.creation_code(name) + constructor)
    assert receipt["status"] == "0x1", receipt
    return to_checksum_address(receipt["contractAddress"])


async def call(node: EvmNode, to: str, data: bytes, sender: str | None = None) -> bytes:
    params: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
    if sender:
        params["from"] = sender
    answer = await node.request("eth_call", [params, "latest"])
    return bytes.fromhex(answer.removeprefix("0x"))


async def token_balance(node: EvmNode, token: str, owner: str) -> int:
    answer = await call(node, token, calldata("balanceOf(address)", owner))
    return int(decode(["uint256"], answer)[0])


def authorization(key: str, **fields: Any) -> dict[str, Any]:
    """An EIP-3009 authorization signed with EIP-712 under Circle's domain
    (the arguments of ``authorization_typed``); answers the message, v/r/s and
    the 65-byte signature."""
    typed = authorization_typed(Account.from_key(key).address, **fields)
    signed = Account.sign_typed_data(key, full_message=typed)
    return {
        **typed["message"],
        "v": signed.v,
        "r": signed.r.to_bytes(32, "big"),
        "s": signed.s.to_bytes(32, "big"),
        "signature": bytes(signed.signature),
    }


def authorization_typed(
    sender: str,
    *,
    token: str,
    chain: int,
    to: str,
    value: int,
    nonce: bytes,
    valid_after: int = 0,
    valid_before: int = 2**48,
    primary: str = "TransferWithAuthorization",
) -> dict[str, Any]:
    """The EIP-712 typed data of an EIP-3009 authorization (eth-account's full_message)."""
    fields = [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "validAfter", "type": "uint256"},
        {"name": "validBefore", "type": "uint256"},
        {"name": "nonce", "type": "bytes32"},
    ]
    message = {
        "from": sender,
        "to": to,
        "value": value,
        "validAfter": valid_after,
        "validBefore": valid_before,
        "nonce": nonce,
    }
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: fields,
        },
        "primaryType": primary,
        "domain": {
            "name": "USD Coin",
            "version": "2",
            "chainId": chain,
            "verifyingContract": token,
        },
        "message": message,
    }
    return typed


def cancel_authorization(key: str, *, token: str, chain: int, nonce: bytes) -> dict[str, Any]:
    sender = Account.from_key(key).address
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "CancelAuthorization": [
                {"name": "authorizer", "type": "address"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "CancelAuthorization",
        "domain": {
            "name": "USD Coin",
            "version": "2",
            "chainId": chain,
            "verifyingContract": token,
        },
        "message": {"authorizer": sender, "nonce": nonce},
    }
    signed = Account.sign_typed_data(key, full_message=typed)
    return {
        "authorizer": sender,
        "nonce": nonce,
        "v": signed.v,
        "r": signed.r.to_bytes(32, "big"),
        "s": signed.s.to_bytes(32, "big"),
    }
