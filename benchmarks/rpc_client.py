"""The CPU of one JSON-RPC call to a chain node: httpx's own transport vs aiohttp's under it.

    python -m benchmarks.rpc_client [--calls 2000] [--repeat 3]

``getBalance`` against the test suite's LiteSVM node (its server runs on
another thread of this process), one caller and eight at once, through
``httpx.AsyncClient`` with httpx's transport (the daemon's before) and with
``waiaas_daemon.chain.http.AiohttpTransport`` (after). The figure is the
calling thread's CPU per call (``time.thread_time``), so the node's own work
is not in it; medians of the repeats, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time

import httpx
from solders.keypair import Keypair

from benchmarks._common import median, table
from tests.daemon.fake_rpc_node import FakeSolanaNode, ThreadedNode
from waiaas_daemon.chain.http import AiohttpTransport

TRANSPORTS = {"httpx (before)": httpx.AsyncHTTPTransport, "aiohttp under httpx": AiohttpTransport}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)


async def _cpu_per_call(url: str, transport: type, callers: int, calls: int) -> float:
    address = str(Keypair().pubkey())
    ids = itertools.count()
    async with httpx.AsyncClient(transport=transport(), timeout=10) as client:

        async def caller(n: int) -> None:
            for _ in range(n):
                body = {"jsonrpc": "2.0", "id": next(ids), "method": "getBalance"}
                answer = await client.post(url, json={**body, "params": [address]})
                answer.json()

        await caller(50)  # connections open, code warm
        started = time.thread_time()
        await asyncio.gather(*(caller(calls // callers) for _ in range(callers)))
        return 1000 * (time.thread_time() - started) / calls


def main(args: argparse.Namespace) -> bool:
    found: dict[tuple[str, int], list[float]] = {}
    with ThreadedNode(FakeSolanaNode()) as threaded:
        for _ in range(args.repeat):
            for callers in (1, 8):
                for name, transport in TRANSPORTS.items():
                    ms = asyncio.run(_cpu_per_call(threaded.url, transport, callers, args.calls))
                    found.setdefault((name, callers), []).append(ms)
    rows = []
    for callers in (1, 8):
        before = median(found[("httpx (before)", callers)])
        after = median(found[("aiohttp under httpx", callers)])
        rows.append([str(callers), f"{before:.3f}", f"{after:.3f}", f"{before / after:.2f} x"])
    print(table(["callers", "httpx ms CPU/call", "aiohttp under httpx", "httpx / aiohttp"], rows))
    return True
