"""EVM test parts: anvil posing as a public network, the daemon in-process on it, the test USDC.

anvil runs with Sepolia's chain id, and ``[evm.rpc_urls] sepolia`` points at it, so
the daemon's own network table, chain id check and fee logic are the ones tested.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock, Harness
from tests.support.anvil import DEV_ADDRESS, SKIP_ENV, Anvil, start_anvil
from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

SEPOLIA = 11155111
NETWORK = "sepolia"
ETH = 10**18
CONTRACTS = (
    Path(__file__).resolve().parents[2] / "packages/daemon/src/waiaas_daemon/chain/evm/contracts"
)


def anvil_node(**kwargs: Any) -> Iterator[Anvil]:
    import os

    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"{SKIP_ENV}=1: anvil tests skipped")
    node = start_anvil(chain_id=SEPOLIA, **kwargs)
    try:
        yield node
    finally:
        node.stop()
        if node.process.stdout is not None:
            node.process.stdout.close()


def evm_settings(*urls: str, **changes: Any) -> Settings:
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        evm_network=NETWORK,
        evm_rpc_urls={NETWORK: tuple(urls)},
        **changes,
    )


@asynccontextmanager
async def evm_harness(tmp_path: Path, settings: Settings) -> AsyncIterator[Harness]:
    clock = FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield Harness(state, http, clock)


@dataclasses.dataclass
class Agent:
    wallet: dict[str, Any]
    headers: dict[str, str]

    @property
    def address(self) -> str:
        return str(self.wallet["address"])


async def evm_agent(
    harness: Harness, anvil: Anvil, *, wei: int = 10 * ETH, **session: Any
) -> Agent:
    response = await harness.http.post(
        "/v1/wallets", json={"name": "evm", "chain": "evm"}, headers=MASTER
    )
    assert response.status_code == 201, response.text
    wallet = response.json()
    if wei:
        anvil.set_balance(wallet["address"], wei)
    token = (await harness.session(wallet["id"], **session))["token"]
    return Agent(wallet, {"Authorization": f"Bearer {token}"})


def balance(anvil: Anvil, address: str) -> int:
    return int(anvil.rpc("eth_getBalance", [address, "latest"]), 16)


def dev_send(anvil: Anvil, to: str | None, data: str = "0x", value: int = 0) -> dict[str, Any]:
    """A transaction from anvil's unlocked dev account, mined (automine on); its receipt."""
    tx: dict[str, Any] = {"from": DEV_ADDRESS, "data": data, "value": hex(value)}
    if to is not None:
        tx["to"] = to
    tx_hash = anvil.rpc("eth_sendTransaction", [tx])
    receipt = anvil.rpc("eth_getTransactionReceipt", [tx_hash])
    assert receipt is not None and receipt["status"] == "0x1", receipt
    return dict(receipt)


def deploy_usdc(anvil: Anvil) -> str:
    """The test USDC (6 decimals), its minter anvil's dev account; its address."""
    from eth_abi import encode

    artifact = json.loads((CONTRACTS / "TestUSDC.json").read_text())
    bytecode = artifact["bytecode"]
    if isinstance(bytecode, dict):
        bytecode = bytecode["object"]
    data = bytecode.removeprefix("0x") + encode(["address"], [DEV_ADDRESS]).hex()
    from eth_utils import to_checksum_address

    return str(to_checksum_address(dev_send(anvil, None, "0x" + data)["contractAddress"]))


def mint_usdc(anvil: Anvil, usdc: str, to: str, amount: int) -> None:
    from eth_abi import encode

    data = "0x40c10f19" + encode(["address", "uint256"], [to, amount]).hex()
    dev_send(anvil, usdc, data)


def usdc_balance(anvil: Anvil, usdc: str, owner: str) -> int:
    from eth_abi import encode

    data = "0x70a08231" + encode(["address"], [owner]).hex()
    return int(anvil.rpc("eth_call", [{"to": usdc, "data": data}, "latest"]), 16)


class RefusingProxy:
    """JSON-RPC in front of anvil that refuses the next ``refuse`` broadcasts as a node does
    when the sender cannot pay (geth's words, code -32000); everything else goes through."""

    def __init__(self, target: str, refuse: int = 1) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.refuse = refuse
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                if request.get("method") == "eth_sendRawTransaction" and proxy.refuse > 0:
                    proxy.refuse -= 1
                    error = {
                        "code": -32000,
                        "message": "insufficient funds for gas * price + value",
                    }
                    answer = json.dumps({"jsonrpc": "2.0", "id": request["id"], "error": error})
                    data = answer.encode()
                else:
                    data = httpx.post(
                        target, content=body, headers={"Content-Type": "application/json"}
                    ).content
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
