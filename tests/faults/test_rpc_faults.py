"""An RPC node that answers 429, 503 or nothing: bounded retries, then a clear CHAIN_ERROR.

The node is the LiteSVM-backed fake of tests/daemon, served over real loopback
HTTP. A real ``waiaas-daemon serve`` meets 429 and 503 with its default backoff
(0.5 s, 1 s, 2 s). Timeouts take 10 s per attempt there, so they are tested on
the in-process daemon with an RpcChain whose timeout and delays are short.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
from argon2 import PasswordHasher
from solders.pubkey import Pubkey
from starlette.requests import Request
from starlette.responses import Response

from tests.daemon.fake_rpc_node import FakeSolanaNode, Fault, HttpStatus, Stall, node_server
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from waiaas_core.config import Settings
from waiaas_daemon.chain.rpc import RpcChain
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
PASSWORD = "correct horse battery staple"
MASTER = {"X-Master-Password": PASSWORD}
# What public endpoints answer when rate limiting.
TOO_MANY = HttpStatus(
    429,
    json={"jsonrpc": "2.0", "error": {"code": 429, "message": "Too many requests"}, "id": None},
)
UNAVAILABLE = HttpStatus(503)
DEFAULT_BACKOFF = 0.5 + 1 + 2  # RpcChain's DEFAULT_RETRY_DELAYS


class Node(FakeSolanaNode):
    """The fake node, with getBalance faults per address, so two wallets fail differently."""

    def __init__(self) -> None:
        super().__init__()
        self._balance_faults: defaultdict[str, deque[Fault]] = defaultdict(deque)

    def fail_balance(self, address: str, *faults: Fault) -> None:
        self._balance_faults[address].extend(faults)

    def balance_calls(self, address: str) -> int:
        return sum(body["params"][0] == address for body in self.calls("getBalance"))

    async def handle(self, request: Request) -> Response:
        body = await request.json()  # starlette keeps it for the next read
        if body.get("method") == "getBalance":
            queued = self._balance_faults[body["params"][0]]
            if queued:
                self.fail("getBalance", queued.popleft())
        return await super().handle(request)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_chain_error(response: httpx.Response, node_url: str) -> dict[str, Any]:
    assert response.status_code == 502, response.text
    body = response.json()
    assert (body["code"], body["retryable"]) == ("CHAIN_ERROR", True)
    # Clear: it names what failed and how often, and never the node's URL (it may hold a key).
    assert "failed 4 times on devnet" in body["message"], body
    assert node_url.rstrip("/").split("//")[1] not in response.text
    return body


async def timed(request: Callable[[], Any]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request()
    return response, time.monotonic() - started


@pytest.mark.slow
async def test_a_real_daemon_meets_429_and_503_with_bounded_retries_then_chain_error(tmp_path):
    node = Node()
    async with node_server(node) as server:
        config = {"security": FAST_SECURITY, "solana": {"network": "devnet", "rpc_url": server.url}}
        daemon: Daemon = await anyio.to_thread.run_sync(
            lambda: start_daemon(tmp_path / "data", config=config)
        )
        try:
            async with httpx.AsyncClient(base_url=daemon.base_url, timeout=30) as http:
                await _faults_against(daemon, http, node, server.url)
            assert daemon.stop() == 0
        finally:
            daemon.kill()
            daemon.close()


async def _faults_against(daemon: Daemon, http: httpx.AsyncClient, node: Node, url: str) -> None:
    async def agent(name: str) -> tuple[dict[str, Any], str]:
        wallet = await http.post("/v1/wallets", json={"name": name}, headers=MASTER)
        assert wallet.status_code == 201, wallet.text
        session = await http.post(
            "/v1/sessions", json={"walletId": wallet.json()["id"]}, headers=MASTER
        )
        return wallet.json(), session.json()["token"]

    (reader, reader_token), (sender, sender_token) = await agent("reader"), await agent("sender")
    assert reader["network"] == "devnet"
    node.fund(Pubkey.from_string(sender["address"]), 2 * SOL)
    shop = str(Pubkey.new_unique())
    node.fund(Pubkey.from_string(shop), SOL)

    # The node rate-limits one wallet's balance and is unavailable for blockhashes.
    # Exactly four of each: a fifth attempt would get an answer and no CHAIN_ERROR.
    node.fail_balance(reader["address"], *[TOO_MANY] * 4)
    node.fail("getLatestBlockhash", *[UNAVAILABLE] * 4)
    results: dict[str, tuple[httpx.Response, float]] = {}

    async def balance() -> None:
        results["balance"] = await timed(
            lambda: http.get("/v1/wallet/balance", headers=bearer(reader_token))
        )

    async def send() -> None:
        results["send"] = await timed(
            lambda: http.post(
                "/v1/transactions/send",
                json={"to": shop, "amount": "1000"},
                headers=bearer(sender_token),
            )
        )

    async with anyio.create_task_group() as tg:
        tg.start_soon(balance)
        tg.start_soon(send)
    for response, elapsed in results.values():
        assert_chain_error(response, url)
        assert elapsed < DEFAULT_BACKOFF + 2, elapsed  # bounded: no retry beyond the third
    assert "getBalance" in results["balance"][0].json()["message"]
    assert "getLatestBlockhash" in results["send"][0].json()["message"]
    assert node.balance_calls(reader["address"]) == 4  # one call and three retries
    assert len(node.calls("getLatestBlockhash")) == 4
    assert node.calls("sendTransaction") == []

    # A node that recovers within the retries is no error at all.
    node.fail_balance(reader["address"], TOO_MANY, UNAVAILABLE)
    node.fail("getLatestBlockhash", UNAVAILABLE)
    got = await http.get("/v1/wallet/balance", headers=bearer(reader_token))
    assert got.status_code == 200 and got.json()["balance"] == "0", got.text
    assert node.balance_calls(reader["address"]) == 4 + 3
    sent = await http.post(
        "/v1/transactions/send", json={"to": shop, "amount": "1000"}, headers=bearer(sender_token)
    )
    assert sent.status_code == 201 and sent.json()["status"] == "CONFIRMED", sent.text


# -- in process: short timeouts ------------------------------------------------


@asynccontextmanager
async def in_process_daemon(tmp_path, node_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on a devnet wallet whose RpcChain gives up fast: 0.3 s per attempt."""

    def chain(network: str, settings: Settings) -> RpcChain:
        return RpcChain(
            network, node_url, timeout=0.3, retry_delays=(0.02, 0.04, 0.08), poll_interval=0.01
        )

    settings = Settings(min_session_ttl=1, network="devnet", rpc_url=node_url)
    async with DaemonState.open(
        settings,
        tmp_path / "data",
        PASSWORD,
        kdf=KdfParams(time_cost=1, memory_cost=1024, parallelism=1),
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        chain_factory=chain,
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield http


async def agent(http: httpx.AsyncClient, **session: Any) -> tuple[dict[str, Any], dict[str, str]]:
    wallet = (await http.post("/v1/wallets", json={"name": "agent"}, headers=MASTER)).json()
    created = await http.post(
        "/v1/sessions", json={"walletId": wallet["id"], **session}, headers=MASTER
    )
    assert created.status_code == 201, created.text
    return wallet, bearer(created.json()["token"])


async def test_a_node_that_never_answers_times_out_four_times_then_chain_error(tmp_path):
    node = Node()
    async with node_server(node) as server, in_process_daemon(tmp_path, server.url) as http:
        wallet, headers = await agent(http)
        node.fail_balance(wallet["address"], *[Stall()] * 4)
        response, elapsed = await timed(lambda: http.get("/v1/wallet/balance", headers=headers))
        body = assert_chain_error(response, server.url)
        assert "timed out" in body["message"]
        assert node.balance_calls(wallet["address"]) == 4
        assert 4 * 0.3 <= elapsed < 4 * 0.3 + 1.5, elapsed

        # Timeouts mixed with 429 and 503, then an answer: the retries carry it through.
        node.fail_balance(wallet["address"], Stall(), TOO_MANY, UNAVAILABLE)
        response = await http.get("/v1/wallet/balance", headers=headers)
        assert response.status_code == 200 and response.json()["balance"] == "0", response.text
        assert node.balance_calls(wallet["address"]) == 8


async def test_a_send_the_node_never_received_leaves_no_pending_spend(tmp_path):
    node = Node()
    async with node_server(node) as server, in_process_daemon(tmp_path, server.url) as http:
        wallet, headers = await agent(http, constraints={"maxAmountPerDay": "1000"}, expiresIn=3600)
        node.fund(Pubkey.from_string(wallet["address"]), SOL)
        shop = str(Pubkey.new_unique())
        node.fund(Pubkey.from_string(shop), SOL)

        node.fail("getLatestBlockhash", *[Stall()] * 4)
        failed = await http.post(
            "/v1/transactions/send", json={"to": shop, "amount": "1000"}, headers=headers
        )
        assert_chain_error(failed, server.url)
        assert node.calls("sendTransaction") == []  # nothing was signed or sent

        # Nothing left: the failed send is no PENDING transfer, and it spent none of the
        # day's allowance, so the same send goes through once the node answers.
        listed = (await http.get("/v1/transactions", headers=headers)).json()["items"]
        assert [t["status"] for t in listed if t["status"] in ("PENDING", "SUBMITTED")] == []
        again = await http.post(
            "/v1/transactions/send", json={"to": shop, "amount": "1000"}, headers=headers
        )
        assert again.status_code == 201 and again.json()["status"] == "CONFIRMED", again.text
