"""Benchmark 3: MCP ``tools/call get_address`` over stdio against the REST call it wraps.

The official client (``mcp.ClientSession`` over ``stdio_client``) drives the
installed ``waiaas-mcp``; the baseline is ``GET /v1/wallet/address`` sent by an
httpx.AsyncClient from this process, as waiaas-mcp itself sends it. Blocks of
the two alternate; the difference of the p50s is the MCP layer's overhead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import CallToolResult, TextContent

from benchmarks._common import (
    Admin,
    Server,
    header,
    median,
    ms,
    percentile,
    servers,
    start_daemon,
    table,
    temp_dir,
    verdict,
)

TARGET_OVERHEAD = 0.002


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=500, help="calls per block")
    parser.add_argument("--repeat", type=int, default=3, help="blocks of each")


def mcp_command() -> list[str]:
    """The installed console script, beside the interpreter (as `waiaas mcp setup` writes it)."""
    script = Path(sys.executable).with_name("waiaas-mcp")
    if script.exists():
        return [str(script)]
    found = shutil.which("waiaas-mcp")
    return [found] if found else [sys.executable, "-m", "waiaas_mcp"]


def main(args: argparse.Namespace) -> bool:
    header("MCP tools/call get_address over stdio vs the REST call it wraps")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data")
        started.append(daemon)
        admin = Admin(daemon.base_url)
        wallet = admin.wallet("bench")
        admin.master("POST", "/v1/mcp/tokens", 201, json={"walletId": wallet["id"]})
        token = admin.session(wallet["id"])["token"]
        admin.close()
        mcp_runs, rest_runs = anyio.run(_measure, args, daemon, wallet, token, tmp)
    return _report(mcp_runs, rest_runs)


async def _measure(
    args: argparse.Namespace, daemon: Server, wallet: dict[str, str], token: str, tmp: Path
) -> tuple[list[list[float]], list[list[float]]]:
    command = mcp_command()
    params = StdioServerParameters(
        command=command[0],
        args=command[1:],
        env={
            "WAIAAS_BASE_URL": daemon.base_url,
            "WAIAAS_DATA_DIR": str(daemon.data_dir),
            "WAIAAS_WALLET_ID": wallet["id"],
        },
    )
    mcp_runs: list[list[float]] = []
    rest_runs: list[list[float]] = []
    with (tmp / "mcp.log").open("w") as errlog:
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}
                )
            )
            expected = (await http.get("/v1/wallet/address")).text
            await _mcp_block(session, 50, expected)  # warm-up: connections, first imports
            await _rest_block(http, 50)
            for rep in range(args.repeat):
                mcp_runs.append(await _mcp_block(session, args.calls, expected))
                rest_runs.append(await _rest_block(http, args.calls))
                print(
                    f"  rep {rep + 1} MCP p50 {ms(percentile(mcp_runs[-1], 50))} "
                    f"p99 {ms(percentile(mcp_runs[-1], 99))}   REST p50 "
                    f"{ms(percentile(rest_runs[-1], 50))} p99 {ms(percentile(rest_runs[-1], 99))}",
                    flush=True,
                )
    return mcp_runs, rest_runs


async def _mcp_block(session: ClientSession, calls: int, expected: str) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        result = await session.call_tool("get_address", {})
        times.append(time.perf_counter() - t0)
        if result.is_error or _text(result) != _compact(expected):
            raise RuntimeError(f"get_address answered {result}")
    return times


async def _rest_block(http: httpx.AsyncClient, calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        response = await http.get("/v1/wallet/address")
        times.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"GET /v1/wallet/address answered {response.status_code}")
    return times


def _text(result: CallToolResult) -> str:
    [content] = result.content
    assert isinstance(content, TextContent)
    return _compact(content.text)


def _compact(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def _report(mcp_runs: list[list[float]], rest_runs: list[list[float]]) -> bool:
    mcp_p50 = median([percentile(r, 50) for r in mcp_runs])
    rest_p50 = median([percentile(r, 50) for r in rest_runs])
    diffs = [
        percentile(m, 50) - percentile(r, 50) for m, r in zip(mcp_runs, rest_runs, strict=True)
    ]
    overhead = median(diffs)
    met = overhead <= TARGET_OVERHEAD
    print()
    print(
        table(
            ["call", "p50", "p99"],
            [
                [
                    "MCP tools/call get_address (stdio)",
                    ms(mcp_p50),
                    ms(median([percentile(r, 99) for r in mcp_runs])),
                ],
                [
                    "REST GET /v1/wallet/address (httpx)",
                    ms(rest_p50),
                    ms(median([percentile(r, 99) for r in rest_runs])),
                ],
            ],
        )
    )
    print(
        f"\nMCP layer overhead at p50: {ms(overhead)} (per block: "
        f"{', '.join(ms(d) for d in diffs)}); target ≤ {ms(TARGET_OVERHEAD)}: {verdict(met)}"
    )
    return met
