"""The test USDC's ERC-20 and EIP-3009 paths, and the reverting token, on a real node:
authorizations signed with eth-account's EIP-712, submitted by another account, replay
and cancel refused, authorizationState kept. Every test runs on each node in NODES."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data

from tests.support import evm
from waiaas_daemon.chain.evm import EvmRpcError
from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode
from waiaas_daemon.chain.evm.node import EvmNode

pytestmark = pytest.mark.anyio

USDC = 10**6
NODES = ["anvil", "embedded"]


@dataclass
class Chain:
    node: EvmNode
    chain_id: int
    funder: str  # a private key with ETH to pay gas
    usdc: str
    mint: Callable[[str, int], Awaitable[None]]

    async def fund(self, address: str, wei: int = 10**18) -> None:
        receipt = await evm.send(self.node, self.funder, to=address, value=wei)
        assert receipt["status"] == "0x1"


async def anvil_chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    from tests.support.anvil import DEV_ADDRESS, DEV_KEY

    anvil = request.getfixturevalue("anvil")
    node = JsonRpcNode([anvil.url])
    usdc = await evm.deploy(node, DEV_KEY, "TestUSDC", encode(["address"], [DEV_ADDRESS]))

    async def mint(address: str, amount: int) -> None:
        data = evm.calldata("mint(address,uint256)", address, amount)
        receipt = await evm.send(node, DEV_KEY, to=usdc, data=data)
        assert receipt["status"] == "0x1"

    try:
        yield Chain(node, anvil.chain_id, DEV_KEY, usdc, mint)
    finally:
        await node.aclose()


async def embedded_chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    from waiaas_daemon.chain.evm.embedded import EmbeddedNode
    from waiaas_daemon.storage import SqliteStorage

    funder, _ = evm.new_key()
    async with SqliteStorage.open(request.getfixturevalue("tmp_path") / "w.db") as db:
        node = EmbeddedNode(db)
        await node.airdrop(Account.from_key(funder).address, 10**20)

        async def mint(address: str, amount: int) -> None:
            await node.mint_usdc(address, amount)

        try:
            yield Chain(node, node.chain_id, funder, node.usdc_address, mint)
        finally:
            await node.aclose()


CHAINS = {"anvil": anvil_chain, "embedded": embedded_chain}


@pytest.fixture(params=NODES)
async def chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    async for made in CHAINS[request.param](request):
        yield made


async def expect_revert(chain: Chain, to: str, data: bytes, sender: str) -> str | None:
    """The revert reason eth_call gives (the estimate a wallet makes refuses the same way)."""
    with pytest.raises(EvmRpcError) as caught:
        await evm.call(chain.node, to, data, sender)
    return evm.revert_reason(caught.value.data)


AUTH_HEAD = "address,address,uint256,uint256,uint256,bytes32"
TRANSFER_AUTH = f"transferWithAuthorization({AUTH_HEAD},uint8,bytes32,bytes32)"
TRANSFER_AUTH_BYTES = f"transferWithAuthorization({AUTH_HEAD},bytes)"
RECEIVE_AUTH = f"receiveWithAuthorization({AUTH_HEAD},uint8,bytes32,bytes32)"


def auth_call(signature: str, auth: dict) -> bytes:
    head = [auth["from"], auth["to"], auth["value"], auth["validAfter"], auth["validBefore"]]
    if signature.endswith("bytes)"):
        return evm.calldata(signature, *head, auth["nonce"], auth["signature"])
    return evm.calldata(signature, *head, auth["nonce"], auth["v"], auth["r"], auth["s"])


async def authorization_state(chain: Chain, authorizer: str, nonce: bytes) -> bool:
    answer = await evm.call(
        chain.node,
        chain.usdc,
        evm.calldata("authorizationState(address,bytes32)", authorizer, nonce),
    )
    return bool(decode(["bool"], answer)[0])


async def test_the_token_looks_like_circles_usdc(chain: Chain):
    async def string(fn: str) -> str:
        return str(decode(["string"], await evm.call(chain.node, chain.usdc, evm.selector(fn)))[0])

    assert await string("name()") == "USD Coin"
    assert await string("symbol()") == "USDC"
    assert await string("version()") == "2"
    decimals = await evm.call(chain.node, chain.usdc, evm.selector("decimals()"))
    assert decode(["uint8"], decimals)[0] == 6
    # The domain separator is the one eth-account computes for Circle's domain.
    separator = await evm.call(chain.node, chain.usdc, evm.selector("DOMAIN_SEPARATOR()"))
    _, someone = evm.new_key()
    typed = evm.authorization_typed(
        someone, token=chain.usdc, chain=chain.chain_id, to=someone, value=1, nonce=b"\x01" * 32
    )
    assert separator == encode_typed_data(full_message=typed).header


async def test_transfer_with_authorization_moves_usdc_once(chain: Chain):
    payer_key, payer = evm.new_key()
    _, payee = evm.new_key()
    submitter = Account.from_key(chain.funder).address
    await chain.mint(payer, 10 * USDC)
    nonce = os.urandom(32)
    auth = evm.authorization(
        payer_key, token=chain.usdc, chain=chain.chain_id, to=payee, value=3 * USDC, nonce=nonce
    )
    assert not await authorization_state(chain, payer, nonce)

    # The payer holds no ETH: the submitter pays the gas.
    assert await evm.balance(chain.node, payer) == 0
    receipt = await evm.send(
        chain.node, chain.funder, to=chain.usdc, data=auth_call(TRANSFER_AUTH, auth)
    )
    assert receipt["status"] == "0x1"
    assert await evm.token_balance(chain.node, chain.usdc, payee) == 3 * USDC
    assert await evm.token_balance(chain.node, chain.usdc, payer) == 7 * USDC
    assert await authorization_state(chain, payer, nonce)
    topics = [log["topics"][0] for log in receipt["logs"]]
    assert "0x" + evm.keccak(text="AuthorizationUsed(address,bytes32)").hex() in topics

    # The same authorization again: refused by the estimate, and reverted when mined anyway.
    replay = auth_call(TRANSFER_AUTH, auth)
    reason = await expect_revert(chain, chain.usdc, replay, submitter)
    assert reason == "TestUSDC: authorization is used or canceled"
    mined = await evm.send(chain.node, chain.funder, to=chain.usdc, data=replay, gas=200_000)
    assert mined["status"] == "0x0"
    assert await evm.token_balance(chain.node, chain.usdc, payee) == 3 * USDC


async def test_the_bytes_signature_form_works_too(chain: Chain):
    payer_key, payer = evm.new_key()
    _, payee = evm.new_key()
    await chain.mint(payer, USDC)
    auth = evm.authorization(
        payer_key,
        token=chain.usdc,
        chain=chain.chain_id,
        to=payee,
        value=USDC,
        nonce=os.urandom(32),
    )
    data = auth_call(TRANSFER_AUTH_BYTES, auth)
    receipt = await evm.send(chain.node, chain.funder, to=chain.usdc, data=data)
    assert receipt["status"] == "0x1"
    assert await evm.token_balance(chain.node, chain.usdc, payee) == USDC


async def test_a_forged_or_tampered_authorization_is_refused(chain: Chain):
    payer_key, payer = evm.new_key()
    other_key, _ = evm.new_key()
    _, payee = evm.new_key()
    submitter = Account.from_key(chain.funder).address
    await chain.mint(payer, 5 * USDC)
    nonce = os.urandom(32)
    auth = evm.authorization(
        payer_key, token=chain.usdc, chain=chain.chain_id, to=payee, value=USDC, nonce=nonce
    )
    more = {**auth, "value": 5 * USDC}
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, more), submitter) == (
        "TestUSDC: invalid signature"
    )
    forged = evm.authorization(
        other_key, token=chain.usdc, chain=chain.chain_id, to=payee, value=USDC, nonce=nonce
    )
    forged["from"] = payer
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, forged), submitter) == (
        "TestUSDC: invalid signature"
    )
    other_chain = evm.authorization(
        payer_key, token=chain.usdc, chain=chain.chain_id + 1, to=payee, value=USDC, nonce=nonce
    )
    assert await expect_revert(
        chain, chain.usdc, auth_call(TRANSFER_AUTH, other_chain), submitter
    ) == ("TestUSDC: invalid signature")
    expired = evm.authorization(
        payer_key,
        token=chain.usdc,
        chain=chain.chain_id,
        to=payee,
        value=USDC,
        nonce=nonce,
        valid_before=1,
    )
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, expired), submitter) == (
        "TestUSDC: authorization is expired"
    )
    early = evm.authorization(
        payer_key,
        token=chain.usdc,
        chain=chain.chain_id,
        to=payee,
        value=USDC,
        nonce=nonce,
        valid_after=2**40,
    )
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, early), submitter) == (
        "TestUSDC: authorization is not yet valid"
    )
    assert not await authorization_state(chain, payer, nonce)


async def test_receive_with_authorization_only_by_the_payee(chain: Chain):
    payer_key, payer = evm.new_key()
    payee_key, payee = evm.new_key()
    await chain.mint(payer, 2 * USDC)
    await chain.fund(payee)
    auth = evm.authorization(
        payer_key,
        token=chain.usdc,
        chain=chain.chain_id,
        to=payee,
        value=2 * USDC,
        nonce=os.urandom(32),
        primary="ReceiveWithAuthorization",
    )
    data = auth_call(RECEIVE_AUTH, auth)
    submitter = Account.from_key(chain.funder).address
    assert await expect_revert(chain, chain.usdc, data, submitter) == (
        "TestUSDC: caller must be the payee"
    )
    # A receive authorization is no transfer authorization (another type hash).
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, auth), submitter) == (
        "TestUSDC: invalid signature"
    )
    receipt = await evm.send(chain.node, payee_key, to=chain.usdc, data=data)
    assert receipt["status"] == "0x1"
    assert await evm.token_balance(chain.node, chain.usdc, payee) == 2 * USDC


async def test_a_canceled_authorization_cannot_be_used(chain: Chain):
    payer_key, payer = evm.new_key()
    _, payee = evm.new_key()
    await chain.mint(payer, USDC)
    nonce = os.urandom(32)
    auth = evm.authorization(
        payer_key, token=chain.usdc, chain=chain.chain_id, to=payee, value=USDC, nonce=nonce
    )
    cancel = evm.cancel_authorization(
        payer_key, token=chain.usdc, chain=chain.chain_id, nonce=nonce
    )
    data = evm.calldata(
        "cancelAuthorization(address,bytes32,uint8,bytes32,bytes32)",
        cancel["authorizer"],
        nonce,
        cancel["v"],
        cancel["r"],
        cancel["s"],
    )
    receipt = await evm.send(chain.node, chain.funder, to=chain.usdc, data=data)
    assert receipt["status"] == "0x1"
    assert await authorization_state(chain, payer, nonce)
    submitter = Account.from_key(chain.funder).address
    assert await expect_revert(chain, chain.usdc, auth_call(TRANSFER_AUTH, auth), submitter) == (
        "TestUSDC: authorization is used or canceled"
    )


async def test_only_the_minter_mints_and_transfers_keep_balances(chain: Chain):
    holder_key, holder = evm.new_key()
    _, other = evm.new_key()
    await chain.fund(holder)
    data = evm.calldata("mint(address,uint256)", holder, USDC)
    assert await expect_revert(chain, chain.usdc, data, holder) == (
        "TestUSDC: caller is not the minter"
    )
    await chain.mint(holder, USDC)
    transfer = evm.calldata("transfer(address,uint256)", other, 400_000)
    receipt = await evm.send(chain.node, holder_key, to=chain.usdc, data=transfer)
    assert receipt["status"] == "0x1"
    assert await evm.token_balance(chain.node, chain.usdc, other) == 400_000
    too_much = evm.calldata("transfer(address,uint256)", other, USDC)
    assert await expect_revert(chain, chain.usdc, too_much, holder) == (
        "TestUSDC: transfer amount exceeds balance"
    )


async def test_the_reverting_token_reverts_with_its_reason(chain: Chain):
    holder_key, holder = evm.new_key()
    await chain.fund(holder)
    token = await evm.deploy(chain.node, chain.funder, "RevertingToken")
    minted = await evm.send(
        chain.node, holder_key, to=token, data=evm.calldata("mint(address,uint256)", holder, 10**18)
    )
    assert minted["status"] == "0x1"
    transfer = evm.calldata("transfer(address,uint256)", chain.usdc, 1)
    with pytest.raises(EvmRpcError) as caught:
        await chain.node.request(
            "eth_estimateGas", [{"from": holder, "to": token, "data": "0x" + transfer.hex()}]
        )
    assert evm.revert_reason(caught.value.data) == "RevertingToken: transfers are disabled"
    before = await evm.balance(chain.node, holder)
    receipt = await evm.send(chain.node, holder_key, to=token, data=transfer, gas=100_000)
    assert receipt["status"] == "0x0"
    fee = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    assert fee > 0
    assert await evm.balance(chain.node, holder) == before - fee
