"""The x402 ``exact`` payment on EVM (``chain/evm/x402.py``) against the test USDC on a real
node, anvil and the embedded one: the payer's EIP-712 authorization, submitted by a
facilitator as ``transferWithAuthorization``, moves exactly the price once, and
``authorizationState(from, nonce)`` tells whether it was used."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from eth_account import Account

from tests.daemon.test_evm_usdc import CHAINS, NODES, TRANSFER_AUTH_BYTES, Chain
from tests.support import evm
from waiaas_daemon.chain.evm import EvmRpcError
from waiaas_daemon.chain.evm import x402 as exact

pytestmark = pytest.mark.anyio

USDC = 10**6
PRICE = 10_000


@pytest.fixture(params=NODES)
async def chain(request: pytest.FixtureRequest) -> AsyncIterator[Chain]:
    async for made in CHAINS[request.param](request):
        yield made


def _authorization(chain: Chain, payer: str, payee: str, **changes) -> exact.Authorization:
    after, before = exact.window(int(time.time()), 60)
    fields = {
        "token": chain.usdc,
        "chain_id": chain.chain_id,
        "name": "USD Coin",
        "version": "2",
        "sender": payer,
        "to": payee,
        "value": PRICE,
        "valid_after": after,
        "valid_before": before,
        "nonce": exact.new_nonce(),
        **changes,
    }
    return exact.Authorization(**fields)


async def _settle(chain: Chain, authorization: exact.Authorization, signature: str) -> dict:
    """What a facilitator does: transferWithAuthorization from its own account."""
    wire = authorization.wire()
    data = evm.calldata(
        TRANSFER_AUTH_BYTES,
        wire["from"],
        wire["to"],
        int(wire["value"]),
        int(wire["validAfter"]),
        int(wire["validBefore"]),
        bytes.fromhex(wire["nonce"][2:]),
        bytes.fromhex(signature[2:]),
    )
    return await evm.send(chain.node, chain.funder, to=chain.usdc, data=data)


async def _used(chain: Chain, authorization: exact.Authorization) -> bool:
    call = exact.authorization_state_call(authorization.sender, authorization.nonce)
    answer = await chain.node.request("eth_call", [{"to": chain.usdc, "data": call}, "latest"])
    return exact.is_used(answer)


async def test_a_signed_authorization_pays_exactly_the_price_once(chain: Chain):
    payer = Account.create()
    _, payee = evm.new_key()
    await chain.mint(payer.address, 5 * USDC)
    authorization = _authorization(chain, payer.address, payee)
    signature = exact.sign(payer, authorization)
    assert exact.signer_of(authorization, signature) == payer.address
    assert exact.payload(authorization, signature)["authorization"]["value"] == str(PRICE)
    assert not await _used(chain, authorization)
    receipt = await _settle(chain, authorization, signature)
    assert receipt["status"] == "0x1"
    assert any(log["topics"][0] == exact.AUTHORIZATION_USED for log in receipt["logs"])
    assert await _used(chain, authorization)
    assert await evm.token_balance(chain.node, chain.usdc, payee) == PRICE
    assert await evm.token_balance(chain.node, chain.usdc, payer.address) == 5 * USDC - PRICE
    # The same authorization again: the token refuses it (the nonce is used).
    with pytest.raises((EvmRpcError, AssertionError)):
        await _settle(chain, authorization, signature)
    assert await evm.token_balance(chain.node, chain.usdc, payee) == PRICE


async def test_the_tokens_domain_from_the_requirements_is_what_the_token_checks(chain: Chain):
    payer = Account.create()
    _, payee = evm.new_key()
    await chain.mint(payer.address, 5 * USDC)
    wrong = _authorization(chain, payer.address, payee, name="USDC")  # not the token's name
    with pytest.raises((EvmRpcError, AssertionError)):
        await _settle(chain, wrong, exact.sign(payer, wrong))
    assert not await _used(chain, wrong)
    assert await evm.token_balance(chain.node, chain.usdc, payee) == 0


def test_the_window_is_short_and_a_nonce_is_never_reused():
    after, before = exact.window(1_000_000, 60)
    assert (after, before) == (1_000_000 - exact.VALID_AFTER_SLACK, 1_000_060)
    assert exact.window(1_000_000, None)[1] == 1_000_000 + exact.VALID_FOR
    assert exact.window(1_000_000, 5)[1] == 1_000_030  # never shorter than 30 s
    nonces = {exact.new_nonce() for _ in range(100)}
    assert len(nonces) == 100 and all(len(n) == 66 for n in nonces)
