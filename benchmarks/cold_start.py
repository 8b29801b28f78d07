"""Benchmark 4: ``waiaas-mcp`` cold start, spawn to ``initialize`` answered.

The floor is ``python -c "import mcp"``: the server cannot start faster than
the SDK it is built on imports. ``python -c pass`` is shown for scale. The
three alternate; the first of each is dropped (it warms the OS file cache).
The server runs against a live daemon with a provisioned token, as it would
under Claude Desktop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

from mcp_types.version import LATEST_HANDSHAKE_VERSION

from benchmarks._common import (
    Admin,
    header,
    median,
    ms,
    servers,
    start_daemon,
    table,
    temp_dir,
    verdict,
)
from benchmarks.mcp_roundtrip import mcp_command

TARGET_ABOVE_FLOOR = 0.3

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": LATEST_HANDSHAKE_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "waiaas-benchmark", "version": "0"},
    },
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeat", type=int, default=10)


def main(args: argparse.Namespace) -> bool:
    header("waiaas-mcp cold start vs python -c 'import mcp'")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data")
        started.append(daemon)
        admin = Admin(daemon.base_url)
        wallet = admin.wallet("bench")
        admin.master("POST", "/v1/mcp/tokens", 201, json={"walletId": wallet["id"]})
        admin.close()
        env = {
            **os.environ,
            "WAIAAS_BASE_URL": daemon.base_url,
            "WAIAAS_DATA_DIR": str(daemon.data_dir),
            "WAIAAS_WALLET_ID": wallet["id"],
        }
        times: dict[str, list[float]] = {"pass": [], "import mcp": [], "waiaas-mcp": []}
        for rep in range(args.repeat + 1):
            sample = {
                "pass": _wall([sys.executable, "-c", "pass"]),
                "import mcp": _wall([sys.executable, "-c", "import mcp"]),
                "waiaas-mcp": _initialize(mcp_command(), env),
            }
            if rep == 0:
                continue
            for name, seconds in sample.items():
                times[name].append(seconds)
            print("  " + "  ".join(f"{name} {ms(s)}" for name, s in sample.items()), flush=True)
    return _report(times)


def _wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _initialize(argv: list[str], env: dict[str, str]) -> float:
    """Spawn, send initialize, wait for its answer; then close stdin and reap the process."""
    t0 = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
        process.stdin.flush()
        while True:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("waiaas-mcp exited before answering initialize")
            message = json.loads(line)
            if message.get("id") == 1:
                break
        elapsed = time.perf_counter() - t0
        if "result" not in message:
            raise RuntimeError(f"initialize failed: {message}")
        process.stdin.close()
        process.wait(15)
        process.stdout.close()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return elapsed


def _report(times: dict[str, list[float]]) -> bool:
    floor = median(times["import mcp"])
    cold = median(times["waiaas-mcp"])
    met = cold <= floor + TARGET_ABOVE_FLOOR
    print()
    print(
        table(
            ["process", "median", "min", "max"],
            [
                [name, ms(median(values)), ms(min(values)), ms(max(values))]
                for name, values in (
                    ('python -c "pass"', times["pass"]),
                    ('python -c "import mcp"', times["import mcp"]),
                    ("waiaas-mcp: spawn → initialize answered", times["waiaas-mcp"]),
                )
            ],
        )
    )
    print(
        f"\nwaiaas-mcp is {ms(cold - floor)} above the SDK import floor; "
        f"target ≤ floor + {TARGET_ABOVE_FLOOR * 1000:.0f} ms: {verdict(met)}"
    )
    return met
