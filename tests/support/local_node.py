"""A real `waiaas-daemon local-node` for tests: the subprocess, and a JSON-RPC client for it.

Everything a test does to the chain goes over the node's JSON-RPC, as a user's
tools would: airdrops with requestAirdrop, test mints with ordinary signed
transactions (sendTransaction), balances with getBalance.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_PROGRAM

LISTENING = re.compile(r"local node listening on (http://\S+)")


class LocalNode:
    def __init__(self, ledger: Path, *, port: int = 0) -> None:
        self.ledger = ledger
        self.port = port
        self.url = ""
        self.lines: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._drainer: threading.Thread | None = None
        self._ids = itertools.count(1)

    # -- the process ---------------------------------------------------------------

    def start(self, *args: str, timeout: float = 30) -> LocalNode:
        command = [
            sys.executable,
            "-m",
            "waiaas_daemon",
            "local-node",
            "--ledger",
            str(self.ledger),
        ]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        found = threading.Event()

        def drain(process: subprocess.Popen[bytes]) -> None:
            assert process.stderr is not None
            for raw in process.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                match = LISTENING.search(line)
                if match:
                    self.url = match.group(1)
                    found.set()
            found.set()

        self._drainer = threading.Thread(target=drain, args=(self.process,), daemon=True)
        self._drainer.start()
        if not found.wait(timeout) or self.process.poll() is not None:
            self.stop()
            raise RuntimeError("the local node did not start:\n" + "\n".join(self.lines))
        # The same port after a restart, so daemons pointed at it keep working.
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
        code = self.process.wait(15)
        if self._drainer is not None:
            self._drainer.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self.stop()

    # -- JSON-RPC ------------------------------------------------------------------

    def rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        answer = httpx.post(self.url, json=body, timeout=30).json()
        assert "error" not in answer, answer
        return answer["result"]

    def airdrop(self, address: str | Pubkey, lamports: int) -> str:
        return str(self.rpc("requestAirdrop", str(address), lamports))

    def balance(self, address: str | Pubkey) -> int:
        return int(self.rpc("getBalance", str(address))["value"])

    def send(self, tx: Transaction) -> str:
        encoded = base64.b64encode(bytes(tx)).decode()
        signature = self.rpc("sendTransaction", encoded, {"encoding": "base64"})
        [status] = self.rpc("getSignatureStatuses", [signature])["value"]
        assert status is not None and status["err"] is None, status
        return str(signature)

    def blockhash(self) -> Any:
        from solders.hash import Hash

        return Hash.from_string(self.rpc("getLatestBlockhash")["value"]["blockhash"])

    def create_mint(self, authority: Keypair, decimals: int, program: str = TOKEN_PROGRAM) -> str:
        """A new mint whose mint authority (and rent payer) is ``authority``, funded here."""
        mint = Keypair()
        self.airdrop(authority.pubkey(), 10**9)
        rent = self.rpc("getMinimumBalanceForRentExemption", spl.mint_size(program, False))
        instructions = spl.create_mint_instructions(
            authority.pubkey(), mint.pubkey(), authority.pubkey(), decimals, program, rent, None
        )
        message = Message(instructions, authority.pubkey())
        self.send(Transaction([authority, mint], message, self.blockhash()))
        return str(mint.pubkey())

    def mint_to(self, authority: Keypair, owner: Pubkey, mint: str, amount: int) -> None:
        """Mint to the owner's associated token account, creating it; the authority pays."""
        program = self.rpc("getAccountInfo", mint, {"encoding": "base64"})["value"]["owner"]
        instructions = spl.mint_to_instructions(
            authority.pubkey(), owner, Pubkey.from_string(mint), authority.pubkey(), amount, program
        )
        message = Message(instructions, authority.pubkey())
        self.send(Transaction([authority], message, self.blockhash()))


@contextlib.contextmanager
def running_local_node(ledger: Path, *args: str) -> Iterator[LocalNode]:
    node = LocalNode(ledger).start(*args)
    try:
        yield node
    finally:
        node.kill()
