"""JsonRpcNode against a real anvil, a dead port and loopback fakes answering 429/5xx/garbage:
real calls, JSON-RPC errors raised (not failed over), failover and rest with a fake clock,
and no URL secret in an error or a log line."""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import evm
from tests.support.anvil import DEV_ADDRESS, DEV_KEY
from waiaas_daemon.chain.evm import EvmNodeUnavailable, EvmRpcError
from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode, mask_url

pytestmark = pytest.mark.anyio


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@contextmanager
def fake_node(
    status: int,
    body: bytes,
    content_type: str = "application/json",
    journal: list | None = None,
    echo_id: bool = False,
) -> Iterator[dict]:
    """A loopback HTTP server answering every POST with ``status`` and ``body``; counts hits
    (``journal`` gets its URL per hit, for the order several fakes are asked in;
    ``echo_id`` answers with the request's id)."""
    seen: dict = {"hits": 0, "paths": [], "status": status}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            request = self.rfile.read(length)
            answer = body
            if echo_id:
                answer = json.dumps({**json.loads(body), "id": json.loads(request)["id"]}).encode()
            seen["hits"] += 1
            seen["paths"].append(self.path)
            if journal is not None:
                journal.append(seen["url"])
            self.send_response(seen["status"])
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def dead_url() -> str:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


RATE_LIMITED = json.dumps(
    {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "rate limited"}}
).encode()


async def test_real_calls_against_anvil(anvil):
    node = JsonRpcNode([anvil.url])
    try:
        assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
        assert int(await node.request("eth_blockNumber", []), 16) == 0
        assert await evm.balance(node, DEV_ADDRESS) == 10_000 * 10**18
        _, payee = evm.new_key()
        receipt = await evm.send(node, DEV_KEY, to=payee, value=12345)
        assert receipt["status"] == "0x1"
        assert await evm.balance(node, payee) == 12345
        fees = await node.request("eth_feeHistory", ["0x1", "latest", [50]])
        assert len(fees["baseFeePerGas"]) == 2
    finally:
        await node.aclose()


async def test_a_json_rpc_error_is_raised_not_failed_over(anvil):
    with fake_node(200, b"{}") as second:
        node = JsonRpcNode([anvil.url, second["url"]])
        try:
            with pytest.raises(EvmRpcError) as caught:
                await node.request("eth_sendRawTransaction", ["0x1234"])
            assert caught.value.code != 0
            assert caught.value.message
            # Revert data comes through as the node sent it.
            token = await evm.deploy(node, DEV_KEY, "RevertingToken")
            with pytest.raises(EvmRpcError) as reverted:
                await evm.call(
                    node, token, evm.calldata("transfer(address,uint256)", DEV_ADDRESS, 1)
                )
            assert reverted.value.code == 3
            assert (
                evm.revert_reason(reverted.value.data) == "RevertingToken: transfers are disabled"
            )
            assert node.resting() == []
        finally:
            await node.aclose()
        assert second["hits"] == 0


async def test_a_dead_url_fails_over_to_anvil_and_rests(anvil):
    clock = FakeClock()
    dead = dead_url()
    node = JsonRpcNode([dead, anvil.url], clock=clock, rest=30.0)
    try:
        assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
        assert node.resting() == [dead]
        clock.now += 29
        assert node.resting() == [dead]
        clock.now += 2
        assert node.resting() == []
        assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
        assert node.resting() == [dead]
    finally:
        await node.aclose()


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (429, RATE_LIMITED, "application/json"),
        (503, b"<html>Service Unavailable</html>", "text/html"),
        (500, RATE_LIMITED, "application/json"),
        (200, b"<html>captive portal</html>", "text/html"),
        (
            200,
            json.dumps({"jsonrpc": "2.0", "id": 999, "result": "0x1"}).encode(),
            "application/json",
        ),
        (404, b"not found", "text/plain"),
    ],
    ids=["429", "503-html", "500-jsonrpc", "200-not-json", "wrong-id", "404"],
)
async def test_a_failing_url_is_skipped_for_a_while_then_tried_again(
    anvil, status, body, content_type
):
    clock = FakeClock()
    with fake_node(status, body, content_type) as bad:
        node = JsonRpcNode([bad["url"], anvil.url], clock=clock, rest=30.0)
        try:
            assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
            assert bad["hits"] == 1
            # Resting: the next requests go straight to anvil.
            await node.request("eth_blockNumber", [])
            await node.request("eth_blockNumber", [])
            assert bad["hits"] == 1
            clock.now += 31
            assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
            assert bad["hits"] == 2
        finally:
            await node.aclose()


async def test_every_url_failing_is_unavailable_after_the_retry_rounds():
    sleeps = Sleeps()
    with fake_node(503, b"busy") as busy:
        dead = dead_url()
        node = JsonRpcNode([busy["url"], dead], sleep=sleeps, retry_delays=(0.25, 1.0))
        try:
            with pytest.raises(EvmNodeUnavailable) as caught:
                await node.request("eth_blockNumber", [])
        finally:
            await node.aclose()
    assert sleeps.delays == [0.25, 1.0]
    assert busy["hits"] == 3
    text = str(caught.value)
    assert "HTTP 503" in text and "unreachable" in text
    assert busy["url"] in text and dead in text


async def test_when_all_rest_they_are_still_tried_soonest_rested_first():
    class Ticking(FakeClock):
        def __call__(self) -> float:
            self.now += 0.5  # time passes between two failures of one request
            return self.now

    clock = Ticking()
    asked: list[str] = []
    ok = json.dumps({"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}).encode()
    with (
        fake_node(503, ok, journal=asked, echo_id=True) as a,
        fake_node(200, ok, journal=asked, echo_id=True) as b,
    ):
        node = JsonRpcNode([a["url"], b["url"]], clock=clock, rest=30.0, retry_delays=())
        try:
            assert await node.request("eth_chainId", []) == "0x7a69"
            assert asked == [a["url"], b["url"]]  # A rests
            clock.now += 10
            b["status"] = 503
            asked.clear()
            with pytest.raises(EvmNodeUnavailable):
                await node.request("eth_chainId", [])
            # B first (A rests), then A all the same; B's new rest ends before A's.
            assert asked == [b["url"], a["url"]]
            clock.now += 10
            a["status"] = b["status"] = 200
            asked.clear()
            assert await node.request("eth_chainId", []) == "0x7a69"
            assert asked == [b["url"]]  # not the configured order: the sooner rested
            assert node.resting() == [a["url"]]
        finally:
            await node.aclose()


async def test_url_secrets_never_reach_an_error_or_a_log(anvil, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    # Only this module's mask on httpx's logger (the notify worker adds one too).
    httpx_log = logging.getLogger("httpx")
    mine = [f for f in httpx_log.filters if type(f).__module__ == JsonRpcNode.__module__]
    assert mine, "jsonrpc installs its mask on import"
    monkeypatch.setattr(httpx_log, "filters", mine)
    with fake_node(429, RATE_LIMITED) as limited:
        secret_urls = [
            f"{limited['url']}/v2/SECRETPATHKEY",
            f"{limited['url'].replace('//', '//user:SECRETPASSWORD@')}/",
            f"{limited['url']}/?apikey=SECRETQUERYKEY",
            dead_url() + "/v3/SECRETINFURAKEY",
        ]
        node = JsonRpcNode([*secret_urls, f"{anvil.url}/?key=SECRETANVILKEY"])
        try:
            # anvil answers whatever the query; the others fail and are logged.
            assert await node.request("eth_chainId", []) == hex(anvil.chain_id)
            node2 = JsonRpcNode(secret_urls, retry_delays=())
            with pytest.raises(EvmNodeUnavailable) as caught:
                await node2.request("eth_chainId", [])
            await node2.aclose()
        finally:
            await node.aclose()
        assert limited["paths"][0] == "/v2/SECRETPATHKEY"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request" in logged  # httpx's own line is there, masked
    for text in (logged, str(caught.value), repr(node.endpoints)):
        assert "SECRET" not in text
    assert "/***" in str(caught.value)


def test_mask_url_keeps_the_host_only():
    assert (
        mask_url("https://eth-mainnet.g.alchemy.com/v2/abc")
        == "https://eth-mainnet.g.alchemy.com/***"
    )
    assert mask_url("https://user:pw@rpc.example:8545") == "https://rpc.example:8545/***"
    assert mask_url("https://rpc.example/?key=abc") == "https://rpc.example/***"
    assert mask_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert mask_url("http://127.0.0.1:8545/") == "http://127.0.0.1:8545"
    assert mask_url("http://[::1]:8545/k") == "http://[::1]:8545/***"


def test_urls_are_checked_at_construction():
    with pytest.raises(ValueError, match="at least one"):
        JsonRpcNode([])
    with pytest.raises(ValueError) as caught:
        JsonRpcNode(["wss://rpc.example/SECRETKEY"])
    assert "SECRET" not in str(caught.value)
