"""anvil (Foundry's EVM node, from npm ``@foundry-rs/anvil``) on an ephemeral loopback port.

The binary comes in npm's platform package ``@foundry-rs/anvil-linux-amd64``; the
nox ``tests`` session installs it under ``WAIAAS_NPM_PREFIX`` (default
``~/.cache/waiaas-tests/npm``) when missing. ``WAIAAS_ANVIL`` names another
binary; ``anvil`` on PATH is used too. Tests fail, never skip, without one,
unless ``WAIAAS_TEST_NO_ANVIL=1`` says to skip the anvil tests.

``start_anvil()`` answers an ``Anvil`` with the node's URL and the test-only
methods the tests need: automine on/off, mine, snapshot/revert, reorg, balances.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SKIP_ENV = "WAIAAS_TEST_NO_ANVIL"
ANVIL_VERSION = "1.7.1"
CHAIN_ID = 31337
# anvil's first dev account (the well-known "test test ... junk" mnemonic), funded at start.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
_LISTENING = re.compile(r"Listening on (\S+):(\d+)")


class AnvilUnavailable(Exception):
    """anvil could not be found or started (the message says why)."""


def npm_prefix() -> Path:
    default = Path.home() / ".cache" / "waiaas-tests" / "npm"
    return Path(os.environ.get("WAIAAS_NPM_PREFIX") or default)


def anvil_binary() -> Path:
    """WAIAAS_ANVIL, else the npm platform package under the prefix, else anvil on PATH."""
    named = os.environ.get("WAIAAS_ANVIL")
    if named:
        return Path(named)
    pattern = str(npm_prefix() / "node_modules" / "@foundry-rs" / "anvil-*" / "bin" / "anvil")
    found = sorted(glob.glob(pattern))
    if found:
        return Path(found[0])
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise AnvilUnavailable(
        f"no anvil: nox -s tests installs it (npm install --prefix {npm_prefix()} "
        f"@foundry-rs/anvil@{ANVIL_VERSION}), or set {SKIP_ENV}=1 to skip the anvil tests"
    )


@dataclass
class Anvil:
    """One running anvil; ``rpc`` talks to it directly (test-only methods too)."""

    process: subprocess.Popen[str]
    host: str
    port: int
    chain_id: int
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        answer = httpx.post(self.url, json=body, timeout=10).json()
        if "error" in answer:
            raise RuntimeError(f"anvil {method}: {answer['error']}")
        return answer["result"]

    def receipt(self, tx_hash: str, polls: int = 1000) -> dict[str, Any]:
        """The receipt of a transaction automine will mine: anvil answers a send once the
        transaction is in its pool and mines it a moment later, so on a loaded machine
        ``eth_getTransactionReceipt`` right after the send may still answer null."""
        for _ in range(polls):
            found = self.rpc("eth_getTransactionReceipt", [tx_hash])
            if found is not None:
                return dict(found)
            time.sleep(0.01)
        raise AssertionError(f"anvil did not mine {tx_hash}")

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc("evm_revert", [snapshot_id]))

    def reorg(self, depth: int, transactions: list[Any] | None = None) -> None:
        """Replace the last ``depth`` blocks (anvil_reorg), optionally with other transactions."""
        self.rpc("anvil_reorg", [depth, transactions or []])

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc("anvil_setBalance", [address, hex(wei)])

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.reader is not None:
            self.reader.join(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_anvil(
    *,
    automine: bool = True,
    chain_id: int = CHAIN_ID,
    accounts: int = 2,
    extra_args: tuple[str, ...] = (),
    startup_timeout: float = 30.0,
) -> Anvil:
    """Start anvil on 127.0.0.1 with a port the OS picks; answer once it listens."""
    argv = [
        str(anvil_binary()),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        *(() if automine else ("--no-mining",)),
        *extra_args,
    ]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    output: list[str] = []
    listening = threading.Event()
    where: list[tuple[str, int]] = []

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            del output[:-200]
            found = _LISTENING.search(line)
            if found and not listening.is_set():
                where.append((found.group(1), int(found.group(2))))
                listening.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + startup_timeout
    while not listening.wait(0.05):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            reader.join(timeout=10)
            process.stdout.close()
            raise AnvilUnavailable("anvil did not start:\n" + "".join(output[-20:]))
    host, port = where[0]
    return Anvil(
        process=process, host=host, port=port, chain_id=chain_id, output=output, reader=reader
    )
