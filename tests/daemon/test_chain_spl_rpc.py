"""RpcChain and SPL tokens against the loopback LiteSVM node: reads, costs and transfers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import FakeSolanaNode, NodeServer, node_server
from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, TokenBalance
from waiaas_daemon.chain.rpc import RpcChain

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
USDC = 1_000_000
FEE = 5000


async def no_sleep(delay: float) -> None:
    await anyio.lowlevel.checkpoint()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope, so one loopback node serves the whole module


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[NodeServer]:
    async with node_server() as running:
        yield running


Connect = Callable[[FakeSolanaNode], Any]


@pytest.fixture
def connected(server: NodeServer) -> Connect:
    @asynccontextmanager
    async def connect(node: FakeSolanaNode) -> AsyncIterator[RpcChain]:
        server.use(node)
        chain = RpcChain("devnet", server.url, poll_interval=0.01, sleep=no_sleep)
        try:
            yield chain
        finally:
            await chain.aclose()

    return connect


def addr(keypair: Keypair) -> str:
    return str(keypair.pubkey())


def token_node(program: str = TOKEN_PROGRAM) -> tuple[FakeSolanaNode, str, Keypair]:
    """A node with a 6-decimal mint and a holder of 1 SOL and 100 tokens."""
    node = FakeSolanaNode(confirm_after_polls=0)
    authority, holder = Keypair(), Keypair()
    mint = node.create_mint(authority, 6, program)
    node.fund(holder.pubkey(), SOL)
    node.mint_to(authority, holder.pubkey(), mint, 100 * USDC)
    return node, mint, holder


async def send_token(chain: RpcChain, signer: Keypair, to: str, mint: str, amount: int) -> Any:
    info = await chain.mint_info(mint)
    prepared = await chain.prepare_token_transfer(
        signer, to, mint, amount, info.decimals, info.program, "paid"
    )
    return await chain.submit(prepared)


async def test_token_accounts_asks_each_token_program_in_json_parsed_and_reads_both(
    connected: Connect,
) -> None:
    node, mint, holder = token_node()
    authority = Keypair()
    mint_2022 = node.create_mint(authority, 2, TOKEN_2022_PROGRAM)
    node.mint_to(authority, holder.pubkey(), mint_2022, 250)

    async with connected(node) as chain:
        balances = await chain.token_accounts(addr(holder))

    assert sorted(balances, key=lambda b: b.program) == [
        TokenBalance(
            str(spl.associated_address(addr(holder), mint, TOKEN_PROGRAM)),
            mint,
            100 * USDC,
            6,
            TOKEN_PROGRAM,
        ),
        TokenBalance(
            str(spl.associated_address(addr(holder), mint_2022, TOKEN_2022_PROGRAM)),
            mint_2022,
            250,
            2,
            TOKEN_2022_PROGRAM,
        ),
    ]
    assert [body["params"] for body in node.calls("getTokenAccountsByOwner")] == [
        [
            addr(holder),
            {"programId": program},
            {"commitment": "confirmed", "encoding": "jsonParsed"},
        ]
        for program in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
    ]


async def test_mint_info_reads_decimals_and_flags_a_transfer_fee_mint_once(
    connected: Connect,
) -> None:
    node = FakeSolanaNode()
    plain = node.create_mint(Keypair(), 9, TOKEN_2022_PROGRAM)
    with_fee = node.create_mint(Keypair(), 6, TOKEN_2022_PROGRAM, transfer_fee=(100, 5000))

    async with connected(node) as chain:
        plain_info = await chain.mint_info(plain)
        fee_info = await chain.mint_info(with_fee)
        assert await chain.mint_info(with_fee) == fee_info

    assert (plain_info.decimals, plain_info.unsupported) == (9, ())
    assert (fee_info.decimals, fee_info.unsupported) == (6, ("TransferFeeConfig",))
    assert [body["params"] for body in node.calls("getAccountInfo")] == [
        [plain, {"commitment": "confirmed", "encoding": "base64"}],
        [with_fee, {"commitment": "confirmed", "encoding": "base64"}],
    ]


async def test_mint_info_of_a_wallet_address_is_token_not_found(connected: Connect) -> None:
    node = FakeSolanaNode()
    wallet = Keypair()
    node.fund(wallet.pubkey(), SOL)

    async with connected(node) as chain:
        for address in (addr(wallet), addr(Keypair())):
            with pytest.raises(WaiaasError) as caught:
                await chain.mint_info(address)
            assert caught.value.code == "TOKEN_NOT_FOUND"


async def test_transfer_to_a_new_owner_costs_fee_plus_rent_then_only_the_fee(
    connected: Connect,
) -> None:
    node, mint, sender = token_node()
    recipient = addr(Keypair())
    rent = node.svm.minimum_balance_for_rent_exemption(165)

    async with connected(node) as chain:
        first_cost = await chain.token_transfer_cost(recipient, mint, TOKEN_PROGRAM)
        first = await send_token(chain, sender, recipient, mint, 30 * USDC)
        second_cost = await chain.token_transfer_cost(recipient, mint, TOKEN_PROGRAM)
        second = await send_token(chain, sender, recipient, mint, 20 * USDC)
        sender_tokens = await chain.token_balance(addr(sender), mint, TOKEN_PROGRAM)
        recipient_tokens = await chain.token_balance(recipient, mint, TOKEN_PROGRAM)
        sol = await chain.get_balance(addr(sender))

    assert (first.status, second.status) == ("CONFIRMED", "CONFIRMED"), (first, second)
    assert (first_cost.lamports, second_cost.lamports) == (FEE + rent, FEE)
    assert (sender_tokens, recipient_tokens) == (50 * USDC, 50 * USDC)
    assert sol == SOL - 2 * FEE - rent
    assert [body["params"][0] for body in node.calls("getMinimumBalanceForRentExemption")] == [165]


async def test_token_2022_plain_transfer_over_rpc(connected: Connect) -> None:
    node, mint, sender = token_node(TOKEN_2022_PROGRAM)
    recipient = addr(Keypair())

    async with connected(node) as chain:
        cost = await chain.token_transfer_cost(recipient, mint, TOKEN_2022_PROGRAM)
        outcome = await send_token(chain, sender, recipient, mint, 7)
        balances = await chain.token_accounts(recipient)

    assert outcome.status == "CONFIRMED", outcome.error
    assert cost.rent == node.svm.minimum_balance_for_rent_exemption(170)
    assert [(b.mint, b.amount, b.program) for b in balances] == [(mint, 7, TOKEN_2022_PROGRAM)]
    assert node.svm.get_balance(Pubkey.from_string(cost.recipient_account)) == cost.rent


async def test_token_shortfall_is_refused_by_preflight_and_costs_nothing(
    connected: Connect,
) -> None:
    node, mint, sender = token_node()

    async with connected(node) as chain:
        outcome = await send_token(chain, sender, addr(Keypair()), mint, 100 * USDC + 1)
        tokens = await chain.token_balance(addr(sender), mint, TOKEN_PROGRAM)
        sol = await chain.get_balance(addr(sender))

    assert outcome.status == "FAILED"
    assert "custom program error: 0x1" in (outcome.error or "")
    assert (tokens, sol) == (100 * USDC, SOL)


def test_fake_node_answers_base64_and_mint_filters_in_the_published_shape() -> None:
    node, mint, holder = token_node()

    by_mint = node.rpc_getTokenAccountsByOwner(addr(holder), {"mint": mint}, {"encoding": "base64"})

    (entry,) = by_mint["value"]
    data, encoding = entry["account"]["data"]
    assert encoding == "base64" and entry["account"]["space"] == 165
    state = spl.parse_token_account(TOKEN_PROGRAM, base64.b64decode(data))
    assert state is not None and state.amount == 100 * USDC
    parsed = node.rpc_getTokenAccountsByOwner(
        addr(holder), {"programId": TOKEN_PROGRAM}, {"encoding": "jsonParsed"}
    )["value"][0]["account"]["data"]
    assert parsed["program"] == "spl-token"
    assert parsed["parsed"]["info"]["tokenAmount"] == {
        "amount": "100000000",
        "decimals": 6,
        "uiAmount": 100.0,
        "uiAmountString": "100",
    }


def _answering(result: Any) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    "amount",
    [5, "5.0", "-5", None],
    ids=["number", "fraction", "negative", "null"],
)
async def test_a_token_amount_that_is_not_a_decimal_string_is_a_chain_error(amount: Any) -> None:
    entry = {
        "pubkey": addr(Keypair()),
        "account": {
            "owner": TOKEN_PROGRAM,
            "data": {
                "parsed": {
                    "info": {
                        "mint": addr(Keypair()),
                        "tokenAmount": {"amount": amount, "decimals": 6},
                    }
                }
            },
        },
    }
    transport = _answering({"context": {"slot": 1}, "value": [entry]})
    chain = RpcChain("devnet", "http://node.invalid/", transport=transport, sleep=no_sleep)
    try:
        with pytest.raises(WaiaasError) as caught:
            await chain.token_accounts(addr(Keypair()))
    finally:
        await chain.aclose()

    assert caught.value.code == "CHAIN_ERROR"
    assert "getTokenAccountsByOwner" in caught.value.message


async def test_an_entry_the_node_could_only_answer_in_base64_is_read_with_the_mints_decimals() -> (
    None
):
    node, mint, holder = token_node()
    raw = node.rpc_getTokenAccountsByOwner(
        addr(holder), {"programId": TOKEN_PROGRAM}, {"encoding": "base64"}
    )

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["method"] == "getTokenAccountsByOwner":
            program = body["params"][1]["programId"]
            result = raw if program == TOKEN_PROGRAM else {"context": {"slot": 1}, "value": []}
        else:
            result = node.rpc_getAccountInfo(*body["params"])
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    transport = httpx.MockTransport(handle)
    chain = RpcChain("devnet", "http://node.invalid/", transport=transport, sleep=no_sleep)
    try:
        balances = await chain.token_accounts(addr(holder))
    finally:
        await chain.aclose()

    assert [(b.mint, b.amount, b.decimals) for b in balances] == [(mint, 100 * USDC, 6)]


async def test_two_identical_token_transfers_over_rpc_are_two_signatures(
    connected: Connect,
) -> None:
    node, mint, sender = token_node()
    recipient = addr(Keypair())

    async with connected(node) as chain:
        first = await send_token(chain, sender, recipient, mint, USDC)
        second = await send_token(chain, sender, recipient, mint, USDC)
        received = await chain.token_balance(recipient, mint, TOKEN_PROGRAM)

    assert first.signature != second.signature
    assert received == 2 * USDC


async def test_a_token_account_as_recipient_is_an_invalid_address_over_rpc(
    connected: Connect,
) -> None:
    node, mint, holder = token_node()
    ata = str(spl.associated_address(addr(holder), mint, TOKEN_PROGRAM))

    async with connected(node) as chain:
        with pytest.raises(WaiaasError) as caught:
            await chain.token_transfer_cost(ata, mint, TOKEN_PROGRAM)

    assert caught.value.code == "INVALID_ADDRESS"
