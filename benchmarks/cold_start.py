"""Benchmark 4: ``waiaas-mcp`` cold start, spawn to ``tools/list`` answered.

A client can use a server once it has its tools: the clock stops when the
answer to ``tools/list`` (sent after ``initialize`` and ``initialized``)
arrives. The floor is ``python -c "import mcp.server.mcpserver"``: the server
cannot start faster than the SDK module it is built on imports; a bare
``MCPServer`` with one tool, spawned the same way, is shown beside it, and
``python -c pass`` for scale. All alternate; the first round is dropped (it
warms the OS file cache). The server runs against a live daemon with a
provisioned token, as it would under Claude Desktop.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
from benchmarks.mcp_roundtrip import cpu_seconds, mcp_command

TARGET_ABOVE_FLOOR = 0.3
SDK_IMPORT = "import mcp.server.mcpserver"
BARE_SERVER = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("bare")
@server.tool()
async def get_address() -> str:
    return "{}"
server.run("stdio")
"""

TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
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
    parser.add_argument("--repeat", type=int, default=6)


def main(args: argparse.Namespace) -> bool:
    header(f"waiaas-mcp cold start (spawn → tools/list) vs python -c '{SDK_IMPORT}'")
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
        times: dict[str, list[tuple[float, float]]] = {
            "pass": [],
            "import": [],
            "bare": [],
            "waiaas-mcp": [],
        }
        for rep in range(args.repeat + 1):
            sample = {
                "pass": _wall([sys.executable, "-c", "pass"]),
                # os._exit: the servers are timed before their interpreter's teardown.
                "import": _wall([sys.executable, "-c", f"{SDK_IMPORT}; import os; os._exit(0)"]),
                "bare": _tools_listed([sys.executable, "-c", BARE_SERVER], env),
                "waiaas-mcp": _tools_listed(mcp_command(), env),
            }
            if rep == 0:
                continue
            for name, seconds in sample.items():
                times[name].append(seconds)
            print(
                "  "
                + "  ".join(f"{name} {ms(w)} (cpu {ms(c)})" for name, (w, c) in sample.items()),
                flush=True,
            )
    return _report(times)


def _wall(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of a process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _tools_listed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Spawn, initialize, list the tools: wall and CPU seconds until the list arrives."""
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
        _send(process, INITIALIZE)
        _answer(process, 1)
        _send(process, INITIALIZED)
        _send(process, TOOLS_LIST)
        listed = _answer(process, 2)
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(process.pid)
        if not listed.get("result", {}).get("tools"):
            raise RuntimeError(f"tools/list failed: {listed}")
        process.stdin.close()
        process.wait(15)
        process.stdout.close()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return elapsed, cpu


def _send(process: subprocess.Popen[bytes], message: dict) -> None:
    assert process.stdin is not None
    process.stdin.write(json.dumps(message).encode() + b"\n")
    process.stdin.flush()


def _answer(process: subprocess.Popen[bytes], request_id: int) -> dict:
    assert process.stdout is not None
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the server exited before answering request {request_id}")
        message = json.loads(line)
        if message.get("id") == request_id:
            if "result" not in message:
                raise RuntimeError(f"request {request_id} failed: {message}")
            return message


def _report(times: dict[str, list[tuple[float, float]]]) -> bool:
    wall = {name: median([w for w, _ in values]) for name, values in times.items()}
    cpu = {name: median([c for _, c in values]) for name, values in times.items()}
    met = wall["waiaas-mcp"] <= wall["import"] + TARGET_ABOVE_FLOOR
    print()
    print(
        table(
            ["process", "wall median", "wall min", "CPU median"],
            [
                [label, ms(wall[name]), ms(min(w for w, _ in times[name])), ms(cpu[name])]
                for name, label in (
                    ("pass", 'python -c "pass"'),
                    ("import", f'python -c "{SDK_IMPORT}"'),
                    ("bare", "bare MCPServer: spawn → tools/list answered"),
                    ("waiaas-mcp", "waiaas-mcp: spawn → tools/list answered"),
                )
            ],
        )
    )
    print(
        f"\nwaiaas-mcp is {ms(wall['waiaas-mcp'] - wall['import'])} (CPU "
        f"{ms(cpu['waiaas-mcp'] - cpu['import'])}) above the SDK import floor and "
        f"{ms(wall['waiaas-mcp'] - wall['bare'])} (CPU {ms(cpu['waiaas-mcp'] - cpu['bare'])}) "
        f"above the bare MCPServer; target ≤ floor + {TARGET_ABOVE_FLOOR * 1000:.0f} ms: "
        f"{verdict(met)}"
    )
    return met
