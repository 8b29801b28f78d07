"""RpcChain against a loopback Solana node backed by LiteSVM; MockTransport for protocol edges."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.message import Message
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from tests.daemon.fake_rpc_node import (
    FakeSolanaNode,
    HttpStatus,
    NodeServer,
    RpcFault,
    Stall,
    node_server,
)
from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain.rpc import PUBLIC_ENDPOINTS, RpcChain

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
DELAYS = (0.25, 0.5, 1.0)
POLL = 0.125
# What a public endpoint answers when rate limiting: HTTP 429 with a JSON-RPC error body.
RATE_LIMITED = HttpStatus(
    429,
    json={
        "jsonrpc": "2.0",
        "error": {"code": 429, "message": "Too many requests for a specific RPC call"},
        "id": 1,
    },
)


class Sleeps:
    """An injected sleep: records each delay instead of waiting; may run a hook."""

    def __init__(self, hook: Callable[[], None] | None = None) -> None:
        self.delays: list[float] = []
        self.hook = hook

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.hook:
            self.hook()
        await anyio.lowlevel.checkpoint()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope, so one loopback node serves the whole module


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[NodeServer]:
    async with node_server() as running:
        yield running


Connect = Callable[..., Any]


@pytest.fixture
def connected(server: NodeServer) -> Connect:
    """``async with connected(node, ...) as chain``: an RpcChain to ``node``, on the server."""

    @asynccontextmanager
    async def connect(
        node: FakeSolanaNode, network: str = "devnet", sleeps: Sleeps | None = None, **kwargs: Any
    ) -> AsyncIterator[RpcChain]:
        server.use(node)
        chain = RpcChain(
            network,
            server.url,
            retry_delays=DELAYS,
            poll_interval=POLL,
            poll_attempts=kwargs.pop("poll_attempts", 5),
            sleep=sleeps or Sleeps(),
            **kwargs,
        )
        try:
            yield chain
        finally:
            await chain.aclose()
            node.release()

    return connect


def funded(node: FakeSolanaNode, lamports: int = SOL) -> Keypair:
    keypair = Keypair()
    node.fund(keypair.pubkey(), lamports)
    return keypair


def addr(keypair: Keypair) -> str:
    return str(keypair.pubkey())


def only(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(bodies) == 1, bodies
    return bodies[0]


async def test_get_balance_sends_the_documented_request_and_reads_result_value(
    connected: Connect,
) -> None:
    node = FakeSolanaNode()
    owner = funded(node, 3 * SOL)
    async with connected(node) as chain:
        balance = await chain.get_balance(addr(owner))

    assert balance == 3 * SOL
    body = only(node.calls("getBalance"))
    assert body == {
        "jsonrpc": "2.0",
        "id": body["id"],
        "method": "getBalance",
        "params": [addr(owner), {"commitment": "confirmed"}],
    }
    assert isinstance(body["id"], int)


async def test_send_flow_prepares_submits_base64_and_confirms(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=1)
    sender, recipient = funded(node), Keypair()
    sleeps = Sleeps()
    async with connected(node, sleeps=sleeps) as chain:
        prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, "for tea")
        outcome = await chain.submit(prepared)
        balances = [await chain.get_balance(addr(k)) for k in (sender, recipient)]

    assert outcome.status == "CONFIRMED" and outcome.error is None
    assert outcome.signature == prepared.signature and outcome.accounts == ()
    assert balances == [SOL - SOL // 10 - await chain.transfer_fee(), SOL // 10]
    blockhash_call = only(node.calls("getLatestBlockhash"))
    assert blockhash_call["params"] == [{"commitment": "confirmed"}]
    assert prepared.last_valid_block_height == node.slot - 1 + 150  # the slot it was fetched at
    send = only(node.calls("sendTransaction"))
    encoded, config = send["params"]
    assert base64.b64decode(encoded) == prepared.raw
    assert config == {"encoding": "base64", "preflightCommitment": "confirmed"}
    polls = node.calls("getSignatureStatuses")
    assert [p["params"] for p in polls] == [
        [[prepared.signature], {"searchTransactionHistory": False}]
    ] * 2  # "processed" first, then "confirmed"
    assert sleeps.delays == [POLL]


async def test_submit_answers_submitted_when_not_settled_within_the_poll_budget(
    connected: Connect,
) -> None:
    node = FakeSolanaNode(confirm_after_polls=10)
    sender = funded(node)
    async with connected(node, poll_attempts=3) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), SOL // 10, None)
        outcome = await chain.submit(prepared)
        assert outcome.status == "SUBMITTED"
        assert len(node.calls("getSignatureStatuses")) == 3

        node.confirm_after_polls = 0
        later = await chain.status(prepared.signature)

    assert later is not None and later.status == "CONFIRMED"
    assert node.calls("getSignatureStatuses")[-1]["params"][1] == {"searchTransactionHistory": True}


async def test_preflight_failure_is_failed_with_the_reason_and_not_retried(
    connected: Connect,
) -> None:
    node = FakeSolanaNode()
    sender = funded(node)
    sleeps = Sleeps()
    async with connected(node, sleeps=sleeps) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), 2 * SOL, None)
        outcome = await chain.submit(prepared)
        balance = await chain.get_balance(addr(sender))

    assert outcome.status == "FAILED"
    assert outcome.error is not None
    assert outcome.error.startswith("Transaction simulation failed: Error processing Instruction 0")
    assert "insufficient lamports" in outcome.error  # from the simulation's logs
    assert len(node.calls("sendTransaction")) == 1
    assert node.calls("getSignatureStatuses") == []
    assert sleeps.delays == []
    assert balance == SOL  # a rejected preflight costs nothing


async def test_preflight_rent_failure_is_failed_with_the_chains_reason(connected: Connect) -> None:
    node = FakeSolanaNode()
    sender = funded(node)
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), 1, None)
        outcome = await chain.submit(prepared)

    assert outcome.status == "FAILED"
    assert "insufficient funds for rent" in (outcome.error or "")


async def test_expired_blockhash_is_failed(connected: Connect) -> None:
    node = FakeSolanaNode()
    sender = funded(node)
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), SOL // 10, None)
        node.expire_blockhashes()
        outcome = await chain.submit(prepared)

    assert outcome.status == "FAILED"
    assert outcome.error == "Transaction simulation failed: Blockhash not found"


async def test_resubmitting_a_landed_transaction_reports_how_it_went(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender, recipient = funded(node), Keypair()
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
        first = await chain.submit(prepared)
        again = await chain.submit(prepared)  # the node answers AlreadyProcessed
        balance = await chain.get_balance(addr(recipient))

    assert first.status == again.status == "CONFIRMED"
    assert balance == SOL // 10


async def test_status_of_landed_failed_and_unknown_signatures(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender = funded(node)
    blockhash = node.svm.latest_blockhash()
    ix = transfer(
        TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1)
    )
    failed = node.land(Transaction([sender], Message([ix], sender.pubkey()), blockhash))
    async with connected(node) as chain:
        seen = await chain.status(failed)
        unknown = await chain.status(str(Keypair().sign_message(b"never sent")))
        garbage = await chain.status("not-a-signature")

    assert seen is not None and seen.status == "FAILED"
    assert seen.error == "Transaction results in an account (1) with insufficient funds for rent"
    assert unknown is None and garbage is None
    assert len(node.calls("getSignatureStatuses")) == 2  # garbage is not sent


async def test_two_identical_sends_are_two_transfers(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender, recipient = funded(node), Keypair()
    async with connected(node) as chain:
        outcomes = []
        for _ in range(2):
            prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, "same")
            outcomes.append(await chain.submit(prepared))
        balance = await chain.get_balance(addr(recipient))

    assert [o.status for o in outcomes] == ["CONFIRMED", "CONFIRMED"]
    assert outcomes[0].signature != outcomes[1].signature
    assert balance == 2 * (SOL // 10)


async def test_identical_sends_within_one_blockhash_wait_for_the_next_one(
    connected: Connect,
) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender, recipient = funded(node), Keypair()
    sleeps = Sleeps(hook=node.advance)  # time passing makes a new slot
    async with connected(node, sleeps=sleeps) as chain:
        one = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
        two = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
        outcomes = [await chain.submit(one), await chain.submit(two)]
        balance = await chain.get_balance(addr(recipient))

    assert one.signature != two.signature
    assert len(node.calls("getLatestBlockhash")) == 3
    assert sleeps.delays == [POLL]
    assert [o.status for o in outcomes] == ["CONFIRMED", "CONFIRMED"]
    assert balance == 2 * (SOL // 10)


async def test_a_blockhash_that_never_changes_is_a_chain_error(connected: Connect) -> None:
    node = FakeSolanaNode()
    sender, recipient = funded(node), Keypair()
    async with connected(node, poll_attempts=3) as chain:
        await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
        with pytest.raises(WaiaasError) as caught:
            await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)

    assert caught.value.code == "CHAIN_ERROR" and caught.value.retryable
    assert len(node.calls("getLatestBlockhash")) == 1 + 3


async def test_one_record_signed_again_within_one_blockhash_does_not_wait(
    connected: Connect,
) -> None:
    # The database failed between signing a queued send and storing it: the scheduler
    # signs the same record again. On a node whose blockhash does not move (an idle
    # cluster, this fake) waiting for a new one stalled that send on every retry.
    node = FakeSolanaNode(confirm_after_polls=0)
    sender, recipient = funded(node), Keypair()
    sleeps = Sleeps()
    async with connected(node, sleeps=sleeps, poll_attempts=3) as chain:
        first = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None, record="r1")
        again = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None, record="r1")
        # Another record with the same contents is another transfer: it waits, as before.
        with pytest.raises(WaiaasError) as caught:
            await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None, record="r2")
        outcome = await chain.submit(again)
        balance = await chain.get_balance(addr(recipient))

    assert again.signature == first.signature and again.raw == first.raw
    assert caught.value.code == "CHAIN_ERROR"
    assert sleeps.delays == [POLL] * 3  # only the other record's attempts
    assert outcome.status == "CONFIRMED" and balance == SOL // 10


@pytest.mark.parametrize("fault", [RATE_LIMITED, HttpStatus(503, "upstream busy")])
async def test_http_429_and_503_are_retried_with_backoff(
    connected: Connect, fault: HttpStatus
) -> None:
    node = FakeSolanaNode()
    owner = funded(node, 2 * SOL)
    node.fail("getBalance", fault, fault)
    sleeps = Sleeps()
    async with connected(node, sleeps=sleeps) as chain:
        balance = await chain.get_balance(addr(owner))

    assert balance == 2 * SOL
    assert len(node.calls("getBalance")) == 3
    assert sleeps.delays == list(DELAYS[:2])


@pytest.mark.parametrize(
    "fault",
    [RATE_LIMITED, HttpStatus(500), HttpStatus(502), HttpStatus(503), HttpStatus(504)],
)
async def test_persistent_transient_http_errors_end_in_a_retryable_chain_error(
    connected: Connect,
    fault: HttpStatus,
) -> None:
    node = FakeSolanaNode()
    node.fail("getBalance", *[fault] * 10)
    sleeps = Sleeps()
    async with connected(node, sleeps=sleeps) as chain:
        with pytest.raises(WaiaasError) as caught:
            await chain.get_balance(addr(Keypair()))

    assert caught.value.code == "CHAIN_ERROR"
    assert caught.value.retryable and caught.value.status == 502
    assert f"HTTP {fault.status}" in caught.value.message
    assert len(node.calls("getBalance")) == 1 + len(DELAYS)
    assert sleeps.delays == list(DELAYS)


async def test_node_behind_is_retried_then_answers(connected: Connect) -> None:
    node = FakeSolanaNode()
    owner = funded(node)
    behind = RpcFault(-32005, "Node is behind by 42 slots", {"numSlotsBehind": 42})
    node.fail("getBalance", behind)
    async with connected(node) as chain:
        assert await chain.get_balance(addr(owner)) == SOL

    assert len(node.calls("getBalance")) == 2


async def test_timeouts_are_retried_then_raise_chain_error(connected: Connect) -> None:
    node = FakeSolanaNode()
    node.fail("getBalance", *[Stall()] * 4)
    sleeps = Sleeps()
    with anyio.fail_after(5):
        async with connected(node, sleeps=sleeps, timeout=0.05) as chain:
            with pytest.raises(WaiaasError) as caught:
                await chain.get_balance(addr(Keypair()))

    assert caught.value.code == "CHAIN_ERROR" and caught.value.retryable
    assert "timed out" in caught.value.message
    assert len(node.calls("getBalance")) == 4
    assert sleeps.delays == list(DELAYS)


async def test_a_send_that_meets_a_503_is_sent_again_and_lands_once(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender, recipient = funded(node), Keypair()
    node.fail("sendTransaction", HttpStatus(503))
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
        outcome = await chain.submit(prepared)
        balance = await chain.get_balance(addr(recipient))

    assert outcome.status == "CONFIRMED"
    assert len(node.calls("sendTransaction")) == 2
    assert balance == SOL // 10


async def test_a_send_that_never_gets_through_raises_chain_error(connected: Connect) -> None:
    node = FakeSolanaNode()
    sender = funded(node)
    node.fail("sendTransaction", *[HttpStatus(503)] * 4)
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), SOL // 10, None)
        with pytest.raises(WaiaasError) as caught:
            await chain.submit(prepared)

    assert caught.value.code == "CHAIN_ERROR" and caught.value.retryable


async def test_polling_that_fails_leaves_the_send_submitted(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    sender = funded(node)
    node.fail("getSignatureStatuses", *[HttpStatus(503)] * 4)
    async with connected(node) as chain:
        prepared = await chain.prepare_transfer(sender, addr(Keypair()), SOL // 10, None)
        outcome = await chain.submit(prepared)
        later = await chain.status(prepared.signature)

    assert outcome.status == "SUBMITTED"
    assert later is not None and later.status == "CONFIRMED"


async def test_airdrop_on_devnet_requests_and_confirms(connected: Connect) -> None:
    node = FakeSolanaNode(confirm_after_polls=0)
    recipient = Keypair()
    async with connected(node, "devnet") as chain:
        assert chain.airdrop_allowed
        outcome = await chain.airdrop(addr(recipient), 2 * SOL)
        balance = await chain.get_balance(addr(recipient))

    assert outcome.status == "CONFIRMED"
    assert balance == 2 * SOL
    body = only(node.calls("requestAirdrop"))
    assert body["params"] == [addr(recipient), 2 * SOL, {"commitment": "confirmed"}]


@pytest.mark.parametrize("network", ["testnet", "mainnet"])
async def test_airdrop_is_refused_off_devnet_without_asking_the_node(
    connected: Connect, network: str
) -> None:
    node = FakeSolanaNode()
    async with connected(node, network) as chain:
        assert not chain.airdrop_allowed
        with pytest.raises(WaiaasError) as caught:
            await chain.airdrop(addr(Keypair()), SOL)

    assert caught.value.code == "INVALID_REQUEST"
    assert node.requests == []


async def test_airdrop_refused_by_the_faucet_is_a_chain_error(connected: Connect) -> None:
    node = FakeSolanaNode()
    node.fail("requestAirdrop", RpcFault(-32603, "Internal error"))
    async with connected(node) as chain:
        with pytest.raises(WaiaasError) as caught:
            await chain.airdrop(addr(Keypair()), SOL)

    assert caught.value.code == "CHAIN_ERROR"
    assert "Internal error" in caught.value.message
    assert len(node.calls("requestAirdrop")) == 1


async def test_public_endpoints_and_rpc_url_override() -> None:
    assert PUBLIC_ENDPOINTS == {
        "devnet": "https://api.devnet.solana.com",
        "testnet": "https://api.testnet.solana.com",
        "mainnet": "https://api.mainnet-beta.solana.com",
    }
    chains = [
        RpcChain("mainnet"),
        RpcChain("devnet", "http://127.0.0.1:8899"),
        RpcChain("local", "http://127.0.0.1:8899"),
    ]
    assert chains[0].endpoint == "https://api.mainnet-beta.solana.com"
    assert chains[1].endpoint == "http://127.0.0.1:8899" and chains[1].airdrop_allowed
    assert chains[2].airdrop_allowed  # a local validator has a faucet too
    for chain in chains:
        await chain.aclose()
    with pytest.raises(ValueError):
        RpcChain("local")


async def test_invalid_address_is_refused_before_any_request(connected: Connect) -> None:
    node = FakeSolanaNode()
    async with connected(node) as chain:
        for call in (
            lambda: chain.get_balance("nope"),
            lambda: chain.airdrop("nope", SOL),
            lambda: chain.prepare_transfer(Keypair(), "nope", 1, None),
        ):
            with pytest.raises(WaiaasError) as caught:
                await call()
            assert caught.value.code == "INVALID_ADDRESS"

    assert node.requests == []


# -- protocol edges through httpx.MockTransport ----------------------------------


def mock_chain(handler: Callable[[httpx.Request], httpx.Response], sleeps: Sleeps) -> RpcChain:
    return RpcChain(
        "devnet",
        "https://rpc.example.test/?api-key=SECRET-KEY",
        transport=httpx.MockTransport(handler),
        retry_delays=DELAYS,
        sleep=sleeps,
    )


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
async def test_transport_errors_are_retried_and_never_leak_the_url(
    error: type[httpx.TransportError], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise error(
            "failed talking to https://rpc.example.test/?api-key=SECRET-KEY", request=request
        )

    sleeps = Sleeps()
    chain = mock_chain(handler, sleeps)
    with caplog.at_level(logging.DEBUG), pytest.raises(WaiaasError) as caught:
        await chain.get_balance(addr(Keypair()))
    await chain.aclose()

    assert caught.value.code == "CHAIN_ERROR" and caught.value.retryable
    assert len(seen) == 4 and sleeps.delays == list(DELAYS)
    assert "SECRET-KEY" not in str(caught.value)
    assert "SECRET-KEY" not in caplog.text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": {"value": "many"}}),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 1, "result": 5}),
        httpx.Response(200, json={"jsonrpc": "2.0", "id": 999, "result": {"value": 5}}),
        httpx.Response(200, json=["not", "an", "object"]),
    ],
)
async def test_answers_outside_the_api_are_chain_errors(answer: httpx.Response) -> None:
    chain = mock_chain(lambda request: answer, Sleeps())
    with pytest.raises(WaiaasError) as caught:
        await chain.get_balance(addr(Keypair()))
    await chain.aclose()

    assert caught.value.code == "CHAIN_ERROR"


async def test_http_401_is_a_chain_error_without_retries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"message": "invalid api key"})

    sleeps = Sleeps()
    chain = mock_chain(handler, sleeps)
    with pytest.raises(WaiaasError) as caught:
        await chain.get_balance(addr(Keypair()))
    await chain.aclose()

    assert caught.value.code == "CHAIN_ERROR" and "HTTP 401" in caught.value.message
    assert len(seen) == 1 and sleeps.delays == []


async def test_request_is_json_rpc_2_over_post_with_a_json_body() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "jsonrpc": "2.0",
                "id": body["id"],
                "result": {"context": {"slot": 1}, "value": 7},
            },
        )

    chain = mock_chain(handler, Sleeps())
    assert await chain.get_balance(addr(Keypair())) == 7
    assert await chain.get_balance(addr(Keypair())) == 7
    await chain.aclose()

    assert [r.method for r in seen] == ["POST", "POST"]
    assert seen[0].headers["content-type"] == "application/json"
    ids = [json.loads(r.content)["id"] for r in seen]
    assert ids[0] != ids[1]
