"""Benchmark 4: ``waiaas-mcp`` cold start: spawn to ``initialize``, ``tools/list``, first call.

Three clocks per spawn: the answer to ``initialize``; the answer to ``tools/list``
(sent after ``initialized``: a client can use a server once it has its tools); the
answer to a first ``tools/call get_address`` (the first request that talks to the
daemon, so it pays for what start-up defers: httpx and its client). The floor is
``python -c "import mcp.server.mcpserver"``: the server cannot start faster than
the SDK module it is built on imports; a bare ``MCPServer`` with one tool, spawned
the same way, is shown beside it, and ``python -c pass`` for scale. All alternate;
the first round is dropped (it warms the OS file cache). The server runs against a
live daemon with a provisioned token, as it would under Claude Desktop. Our packages
are byte-compiled first, as ``pip install`` does (an editable install under
``PYTHONDONTWRITEBYTECODE`` would otherwise compile them at every start).
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

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

# spawn → initialize answered, as a multiple of the SDK import measured in the same run.
TARGET_RATIO = 1.3
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
FIRST_CALL = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "get_address", "arguments": {}},
}
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
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--compare-src",
        type=Path,
        help="also time waiaas-mcp from this source dir (another checkout's packages/mcp/src), "
        "alternating with the installed one",
    )


Sample = tuple[float, float, float, float]  # initialize, tools/list, first call, CPU


def main(args: argparse.Namespace) -> bool:
    header(f"waiaas-mcp cold start (spawn → initialize) vs python -c '{SDK_IMPORT}'")
    _byte_compile(args.compare_src)
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
        times: dict[str, list[Sample]] = {"pass": [], "import": [], "bare": [], "waiaas-mcp": []}
        if args.compare_src:
            times["compared"] = []
            compared_env = {**env, "PYTHONPATH": str(args.compare_src)}
        for rep in range(args.repeat + 1):
            sample = {
                "pass": _wall([sys.executable, "-c", "pass"]),
                # os._exit: the servers are timed before their interpreter's teardown.
                "import": _wall([sys.executable, "-c", f"{SDK_IMPORT}; import os; os._exit(0)"]),
                "bare": _started([sys.executable, "-c", BARE_SERVER], env, call=False),
                "waiaas-mcp": _started(mcp_command(), env, call=True),
            }
            if args.compare_src:
                sample["compared"] = _started(mcp_command(), compared_env, call=True)
            if rep == 0:
                continue
            for name, seconds in sample.items():
                times[name].append(seconds)
            print(
                "  "
                + "  ".join(
                    f"{name} {ms(s[0])}/{ms(s[1])} (cpu {ms(s[3])})" for name, s in sample.items()
                ),
                flush=True,
            )
    return _report(times)


def _byte_compile(compare_src: Path | None) -> None:
    """Write the .pyc files of waiaas_mcp and waiaas_core, as a (non-editable) install has."""
    import waiaas_core
    import waiaas_mcp

    for package in (waiaas_mcp, waiaas_core):
        compileall.compile_dir(Path(package.__file__).parent, quiet=1)
    if compare_src is not None:
        compileall.compile_dir(compare_src, quiet=1)


def _wall(argv: list[str]) -> Sample:
    """Wall and CPU seconds (user + system) of a process run to its end."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, elapsed, elapsed, cpu


def _started(argv: list[str], env: dict[str, str], *, call: bool) -> Sample:
    """Spawn, initialize, list the tools, maybe call one: wall seconds to each answer, and
    the CPU seconds until the list arrived."""
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
        initialized = time.perf_counter() - t0
        _send(process, INITIALIZED)
        _send(process, TOOLS_LIST)
        listed = _answer(process, 2)
        tools_listed = time.perf_counter() - t0
        cpu = cpu_seconds(process.pid)
        if not listed.get("result", {}).get("tools"):
            raise RuntimeError(f"tools/list failed: {listed}")
        first_call = tools_listed
        if call:
            _send(process, FIRST_CALL)
            called = _answer(process, 3)
            first_call = time.perf_counter() - t0
            if called["result"].get("isError") or "address" not in str(called["result"]):
                raise RuntimeError(f"get_address failed: {called}")
        process.stdin.close()
        process.wait(15)
        process.stdout.close()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    return initialized, tools_listed, first_call, cpu


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


def _report(times: dict[str, list[Sample]]) -> bool:
    def med(name: str, i: int) -> float:
        return median([sample[i] for sample in times[name]])

    floor = med("import", 0)
    init, listed, call = (med("waiaas-mcp", i) for i in range(3))
    ratio = init / floor
    met = ratio <= TARGET_RATIO
    print()
    rows = [
        ['python -c "pass"', ms(med("pass", 0)), "", "", ms(med("pass", 3))],
        [f'python -c "{SDK_IMPORT}"', ms(floor), "", "", ms(med("import", 3))],
        ["bare MCPServer", ms(med("bare", 0)), ms(med("bare", 1)), "", ms(med("bare", 3))],
        ["waiaas-mcp", ms(init), ms(listed), ms(call), ms(med("waiaas-mcp", 3))],
    ]
    if "compared" in times:
        rows.append(["waiaas-mcp from --compare-src"] + [ms(med("compared", i)) for i in range(4)])
    print(
        table(
            ["process", "initialize", "tools/list", "first tools/call", "CPU to the list"],
            rows,
        )
    )
    print(
        f"\nspawn → initialize: {ratio:.3f} x the SDK import ({ms(init - floor)} above it), "
        f"{init / med('bare', 0):.3f} x the bare MCPServer; spawn → tools/list "
        f"{listed / floor:.3f} x the import; `pass` is {ms(med('pass', 0))}. CPU to the "
        f"list: {med('waiaas-mcp', 3) / med('import', 3):.3f} x the import's, "
        f"{med('waiaas-mcp', 3) / med('bare', 3):.3f} x the bare MCPServer's. "
        f"Target: initialize ≤ {TARGET_RATIO} x the import: {verdict(met)}"
    )
    if "compared" in times:
        print(
            f"--compare-src: spawn → initialize {med('compared', 0) / floor:.3f} x the import, "
            f"CPU to the list {med('compared', 3) / med('import', 3):.3f} x the import's"
        )
    return met
