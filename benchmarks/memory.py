"""Benchmark 8: the daemon's resident memory on the embedded defaults, idle and in use.

Measured as a user runs it: the four packages installed into a virtualenv of
their own (``--venv``, made with the README's first command's pip install when
missing; the development venv has test tools such as trio and rich that a user
does not), then ``waiaas-daemon serve`` on a fresh data dir (SQLite, the
in-process ``local`` chain). Figures, each the median of ``--repeat`` fresh
data dirs:

- after the first start (which creates the local test USDC mint, so it builds
  the chain's runtime and the SPL instructions);
- after a later start, idle for ``--idle`` seconds: target at most 70 MiB;
- the same daemon after every feature was used once: SOL and USDC sends, the
  console, ``/mcp`` (initialize and tools/list), an EVM wallet on ``evm-local``
  (when this build has EVM chains).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._common import (
    PASSWORD,
    SOL,
    Admin,
    Server,
    header,
    median,
    spawn_server,
    table,
    temp_dir,
    write_config,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["packages/core", "packages/daemon", "packages/mcp", "packages/cli"]
TARGET_MIB = 70.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--venv", type=Path, default=ROOT / ".bench-venv")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=20, help="seconds idle before measuring")


def main(args: argparse.Namespace) -> bool:
    header("daemon RSS on the embedded defaults (a user's install)")
    python = _user_venv(args.venv)
    first: list[float] = []
    idle: list[float] = []
    used: list[float] = []
    for rep in range(args.repeat):
        with temp_dir("waiaas-mem-") as tmp:
            data = tmp / "data"
            write_config(data, {})
            daemon = _serve(python, data)
            time.sleep(2)
            first.append(_rss_mib(daemon))
            daemon.stop()
            daemon = _serve(python, data)
            try:
                time.sleep(args.idle)
                idle.append(_rss_mib(daemon))
                _use_everything(daemon)
                time.sleep(2)
                used.append(_rss_mib(daemon))
            finally:
                daemon.stop()
        print(
            f"  rep {rep + 1}: first start {first[-1]:.1f} MiB, idle {idle[-1]:.1f} MiB, "
            f"every feature used {used[-1]:.1f} MiB",
            flush=True,
        )
    rows = [
        ["after the first start (creates the test mint)", f"{median(first):.1f}"],
        [f"a later start, idle {args.idle:.0f} s", f"{median(idle):.1f}"],
        ["every feature used once", f"{median(used):.1f}"],
    ]
    print()
    print(table(["daemon", "RSS MiB (median)"], rows))
    ok = median(idle) <= TARGET_MIB
    print(f"\nidle RSS target <= {TARGET_MIB:.0f} MiB: {'met' if ok else 'MISSED'}")
    return ok


def _user_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {venv} (python -m venv; pip install the four packages) ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *(str(ROOT / p) for p in PACKAGES)],
            check=True,
        )
    return python


def _serve(python: Path, data: Path) -> Server:
    argv = [str(python), "-m", "waiaas_daemon", "serve", "--data-dir", str(data), "--port", "0"]
    return spawn_server(
        "waiaas-daemon", argv, env={"WAIAAS_MASTER_PASSWORD": PASSWORD, "PYTHONPATH": ""}
    )


def _rss_mib(server: Server) -> float:
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _use_everything(daemon: Server) -> None:
    admin = Admin(daemon.base_url)
    try:
        wallet = admin.wallet("main", airdrop=10 * SOL)
        admin.master(
            "POST",
            f"/v1/wallets/{wallet['id']}/airdrop",
            201,
            json={"amount": "5000000", "token": "USDC"},
        )
        token = admin.session(wallet["id"])["token"]
        to = admin.wallet("other")["address"]
        for body in ({"to": to, "amount": "1000000"}, {"to": to, "amount": "100", "token": "USDC"}):
            admin.bearer(token, "POST", "/v1/transactions/send", 201, json=body)
        page = admin.http.get("/console", follow_redirects=True)
        if page.status_code != 200 or "<html" not in page.text.lower():
            raise RuntimeError(f"/console: {page.status_code}")
        _mcp(daemon.base_url, token)
        _evm(admin)
    finally:
        admin.close()


def _mcp(base_url: str, token: str) -> None:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }
    init: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"},
        },
    }
    with httpx.Client(base_url=base_url, timeout=30) as http:
        answer = http.post("/mcp", json=init, headers=headers)
        if answer.status_code != 200:
            raise RuntimeError(f"/mcp initialize: {answer.status_code} {answer.text[:200]}")
        listed = http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers
        )
        if listed.status_code != 200:
            raise RuntimeError(f"/mcp tools/list: {listed.status_code} {listed.text[:200]}")


def _evm(admin: Admin) -> None:
    """An EVM wallet on the embedded chain, funded, when this build has EVM chains."""
    made = admin.http.post(
        "/v1/wallets",
        json={"name": "evm", "chain": "evm"},
        headers={"X-Master-Password": PASSWORD},
    )
    if made.status_code != 201:
        print(f"  (no EVM wallet: {made.status_code}; measured without the EVM engine)")
        return
    wallet = made.json()
    admin.master("POST", f"/v1/wallets/{wallet['id']}/airdrop", 201, json={"amount": str(10**18)})
