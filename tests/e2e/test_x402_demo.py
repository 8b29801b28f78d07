"""The README's x402 demo, as a newcomer runs it (issue #25, item 4): `waiaas-daemon serve`,
`waiaas-daemon x402-demo`, `waiaas mcp setup`, then the MCP tool `pay_for_resource` on the
official MCP client pays the demo's API on the local chain."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.cli.checks import ok
from tests.mcp.support import call, mcp_client
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ANNOUNCED = re.compile(r"a paid API at (http://\S+/report)")
SETUP = re.compile(r"next: waiaas mcp setup --wallet (\S+) --write-config")
LAST_LINE = "then ask your agent"


class Demo:
    """`waiaas-daemon x402-demo` as a subprocess; its stderr lines as they come."""

    def __init__(self, daemon: Daemon, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
        env["WAIAAS_MASTER_PASSWORD"] = daemon.password
        command = [sys.executable, "-m", "waiaas_daemon", "x402-demo"]
        self.process = subprocess.Popen(
            [*command, "--base-url", daemon.base_url, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.announced = threading.Event()
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = ANNOUNCED.search(line)
            if found:
                self.url = found.group(1)
            if LAST_LINE in line:
                self.announced.set()
        self.announced.set()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.mark.parametrize("chain", ["solana", "evm"])
async def test_the_readme_demo_pays_through_the_mcp_tool(
    daemon: Daemon, waiaas: Any, tmp_path: Path, chain: str
):
    demo = Demo(daemon, "--port", "0", "--chain", chain)
    name = "x402-demo" if chain == "solana" else "x402-demo-evm"
    try:
        assert await anyio.to_thread.run_sync(demo.announced.wait, 60)
        assert demo.url, "".join(demo.lines)
        text = "".join(demo.lines)
        assert f'pay_for_resource(url="{demo.url}")' in text
        found = SETUP.search(text)
        assert found, text
        # The command the demo printed, as the newcomer copies it (HOME is the test's).
        setup = ok(waiaas("mcp", "setup", "--wallet", found.group(1), "--write-config"))
        assert name in setup
        wallets = daemon.api("GET", "/v1/wallets").json()["items"]
        payer = next(w for w in wallets if w["id"] == found.group(1))
        assert payer["name"] == name
        async with mcp_client(daemon.base_url, daemon.data_dir, payer, tmp_path / "mcp.log") as mcp:
            paid = await call(mcp, "pay_for_resource", {"url": demo.url})
            assert paid["outcome"] == "PAID", paid
            assert "Today's numbers" in paid["resource"]["body"]
            assert paid["payment"]["status"] == "CONFIRMED"
            assert paid["payment"]["amount"] == "10000"
            assert paid["payment"]["network"] == (
                "solana:localnet" if chain == "solana" else "eip155:31338"
            )
            assets = await call(mcp, "get_assets")
        usdc = [a for a in assets["items"] if a["symbol"] == "USDC"]
        assert usdc[0]["amount"] == str(5_000_000 - 10_000)
    finally:
        demo.stop()


def test_the_demo_says_clearly_when_no_daemon_answers(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
    env["WAIAAS_MASTER_PASSWORD"] = "whatever password"
    done = subprocess.run(
        [sys.executable, "-m", "waiaas_daemon", "x402-demo", "--base-url", "http://127.0.0.1:9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "no daemon at http://127.0.0.1:9" in done.stderr
    assert "waiaas-daemon serve" in done.stderr and "Traceback" not in done.stderr
