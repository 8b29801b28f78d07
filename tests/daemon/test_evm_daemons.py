"""Real `waiaas-daemon serve` processes on anvil: nonces across two daemons on one PostgreSQL
database, and a daemon SIGKILLed between signing a send and broadcasting it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon.evm_support import ETH, NETWORK, anvil_node, balance
from tests.daemon.test_multi_daemon import wait_until
from tests.support.daemon import Daemon, start_daemon

pytestmark = pytest.mark.slow

RECIPIENT = "0x000000000000000000000000000000000000bEEF"
AMOUNT = 10**15


@pytest.fixture
def anvil():
    yield from anvil_node()


def write_evm_config(data_dir: Path, rpc_url: str, storage_url: str = "") -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    storage = f'[storage]\nurl = "{storage_url}"\n' if storage_url else ""
    # A shared database needs a JSON-RPC Solana network too (never used here).
    solana = '[solana]\nnetwork = "devnet"\n' if storage_url else ""
    (data_dir / "config.toml").write_text(
        "[security]\nmin_session_ttl = 1\nsession_ttl = 3600\n"
        + solana
        + storage
        + f'[evm]\nnetwork = "{NETWORK}"\n[evm.rpc_urls]\n{NETWORK} = ["{rpc_url}"]\n'
    )


def evm_wallet(daemon: Daemon) -> dict[str, Any]:
    # The first EVM wallet imports the eth libraries: seconds on a loaded machine.
    with httpx.Client(base_url=daemon.base_url, timeout=120) as http:
        response = http.post(
            "/v1/wallets", json={"name": "evm", "chain": "evm"}, headers=daemon.master
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


def send(daemon: Daemon, token: str, **body: Any) -> httpx.Response:
    with daemon.client() as http:
        return http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": str(AMOUNT), **body},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )


def test_parallel_sends_through_two_daemons_take_each_nonce_once(tmp_path, anvil, postgres_url):
    started: list[Daemon] = []
    try:
        for n in range(2):
            write_evm_config(tmp_path / f"d{n}", anvil.url, postgres_url)
            started.append(start_daemon(tmp_path / f"d{n}", timeout=120))
        first, second = started
        wallet = evm_wallet(first)
        anvil.set_balance(wallet["address"], 10 * ETH)
        token = first.create_session(wallet["id"])["token"]
        count = 12
        with ThreadPoolExecutor(max_workers=count) as pool:
            answers = list(pool.map(lambda i: send(started[i % 2], token), range(count)))
        assert [a.status_code for a in answers] == [201] * count, [a.text for a in answers]
        with second.client() as http:
            listed = http.get(
                "/v1/transactions",
                params={"limit": 100},
                headers={"Authorization": f"Bearer {token}"},
            ).json()["items"]
        nonces = sorted(t["nonce"] for t in listed)
        assert nonces == list(range(count))  # no gap, no duplicate
        assert len({t["signature"] for t in listed}) == count
        chain_nonce = int(anvil.rpc("eth_getTransactionCount", [wallet["address"], "latest"]), 16)
        assert chain_nonce == count
        assert balance(anvil, RECIPIENT) == count * AMOUNT
    finally:
        for daemon in started:
            daemon.kill()
            daemon.close()


class StallingProxy:
    """JSON-RPC in front of anvil that keeps every eth_sendRawTransaction to itself:
    the daemon signed and stored the transaction, and waits on its broadcast forever."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.held: list[str] = []
        self.stalled = threading.Event()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                if request.get("method") == "eth_sendRawTransaction":
                    proxy.held.append(request["params"][0])
                    proxy.stalled.set()
                    proxy.release.wait(60)
                    return
                answer = httpx.post(
                    proxy.target,
                    content=body,
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                ).content
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(anvil) -> Iterator[StallingProxy]:
    running = StallingProxy(anvil.url)
    yield running
    running.close()


def test_a_daemon_killed_between_signing_and_broadcast_sends_the_same_bytes_once(
    tmp_path, anvil, proxy
):
    data_dir = tmp_path / "data"
    write_evm_config(data_dir, proxy.url)
    daemon = start_daemon(data_dir, timeout=120)
    try:
        wallet = evm_wallet(daemon)
        anvil.set_balance(wallet["address"], 10 * ETH)
        token = daemon.create_session(wallet["id"])["token"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(send, daemon, token)
            if not proxy.stalled.wait(60):
                raise AssertionError(f"never broadcast: {pending.result(60).text}")
            daemon.kill()  # SIGKILL: signed and stored, never broadcast
            with pytest.raises(httpx.HTTPError):
                pending.result(60)
        daemon.close()
        (raw_held,) = proxy.held
        assert anvil.rpc("eth_getTransactionCount", [wallet["address"], "pending"]) == "0x0"
        # Restarted on the node itself: reconciliation broadcasts what was stored.
        write_evm_config(data_dir, anvil.url)
        daemon = start_daemon(data_dir, timeout=120)
        headers = {"Authorization": f"Bearer {token}"}

        def settled() -> dict[str, Any] | None:
            with daemon.client() as http:
                items = http.get("/v1/transactions", headers=headers).json()["items"]
            return items[0] if items and items[0]["status"] == "CONFIRMED" else None

        record = wait_until(settled, what="the stored send to confirm")
        mined = anvil.rpc("eth_getTransactionByHash", [record["signature"]])
        assert mined is not None and record["nonce"] == 0
        raw_mined = anvil.rpc("eth_getRawTransactionByHash", [record["signature"]])
        assert raw_mined == raw_held  # the very bytes signed before the crash
        assert balance(anvil, RECIPIENT) == AMOUNT  # once
        again = send(daemon, token)
        assert again.status_code == 201 and again.json()["status"] == "CONFIRMED"
        with daemon.client() as http:
            items = http.get("/v1/transactions", headers=headers).json()["items"]
        assert [t["nonce"] for t in items] == [1, 0]
        assert balance(anvil, RECIPIENT) == 2 * AMOUNT
    finally:
        daemon.kill()
        daemon.close()
