"""Benchmark 1: sessionAuth ``GET /v1/wallet/address`` against a bare endpoint (same JSON).

Throughput and p50/p99 at concurrency 1 and 32; runs of the two servers
alternate, so both see the same machine. The ratio is the cost of auth and storage.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from benchmarks._common import (
    CLIENTS,
    STACKS,
    Admin,
    Run,
    Server,
    beside_python,
    closed_loop,
    header,
    median,
    ms,
    servers,
    start_bare,
    start_daemon,
    table,
    temp_dir,
    verdict,
)

TARGET_RATIO = 0.6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per server and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--client", choices=sorted(CLIENTS), default="raw")
    parser.add_argument("--stack", choices=sorted(STACKS), default="standard")
    parser.add_argument(
        "--profile",
        type=Path,
        help="after the runs, record the daemon under concurrency 32 with py-spy "
        "(pip install py-spy) into this file of collapsed stacks",
    )


def main(args: argparse.Namespace) -> bool:
    header("sessionAuth GET /v1/wallet/address vs bare Starlette")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", stack=args.stack)
        started.append(daemon)
        admin = Admin(daemon.base_url)
        wallet = admin.wallet("bench")
        token = admin.session(wallet["id"])["token"]
        body = admin.bearer(token, "GET", "/v1/wallet/address", 200)
        admin.close()
        bare = start_bare(body, args.stack)
        started.append(bare)
        print(
            f"client: {args.client}; stack: {' '.join(STACKS[args.stack])}; "
            f"{args.repeat} x {args.seconds:g} s per cell\n"
        )
        results = asyncio.run(_measure(args, daemon, bare, token))
        if args.profile:
            asyncio.run(_profile(args, daemon, token))
    return _report(args, results)


async def _profile(args: argparse.Namespace, daemon: Server, token: str) -> None:
    """py-spy samples the daemon (without pausing it) during one more c=32 run."""
    seconds = max(int(args.seconds), 5)
    spy = await asyncio.create_subprocess_exec(
        beside_python("py-spy"),
        "record",
        "--pid",
        str(daemon.pid),
        "--duration",
        str(seconds),
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(args.profile),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    args_c32 = argparse.Namespace(**{**vars(args), "seconds": seconds - 0.5})
    await _one(args_c32, daemon, {"Authorization": f"Bearer {token}"}, 32)
    await spy.wait()
    print(
        f"\npy-spy profile of the daemon at c=32: {args.profile} "
        f"(summarize: python -m benchmarks.profile_summary {args.profile})"
    )


async def _measure(
    args: argparse.Namespace, daemon: Server, bare: Server, token: str
) -> dict[tuple[str, int], list[Run]]:
    results: dict[tuple[str, int], list[Run]] = {}
    auth = {"Authorization": f"Bearer {token}"}
    for rep in range(args.repeat):
        for concurrency in args.concurrency:
            order = [("bare", bare, {}), ("daemon", daemon, auth)]
            if rep % 2:
                order.reverse()
            for name, server, headers in order:
                run = await _one(args, server, headers, concurrency)
                results.setdefault((name, concurrency), []).append(run)
                print(
                    f"  rep {rep + 1} c={concurrency:<3} {name:<6} {run.rps:8.0f} req/s  "
                    f"p50 {ms(run.pct(50))}  p99 {ms(run.pct(99))}  statuses {run.statuses}  "
                    f"server CPU/request {_cpu(run)}"
                    + (f"  connection errors {run.errors}" if run.errors else ""),
                    flush=True,
                )
    return results


async def _one(
    args: argparse.Namespace, server: Server, headers: dict[str, str], concurrency: int
) -> Run:
    host, port = server.host_port
    client = CLIENTS[args.client]

    async def request(conn: Any) -> tuple[int, bytes]:
        return await conn.request("GET", "/v1/wallet/address", headers)

    warmup = 0.5
    run_task = asyncio.ensure_future(
        closed_loop(
            lambda: client(host, port),
            request,
            concurrency=concurrency,
            seconds=args.seconds,
            warmup=warmup,
        )
    )
    # Server CPU over the measured window only (it may include a few ms of the edges).
    await asyncio.sleep(warmup)
    main0, others0 = server.cpu_seconds()
    await asyncio.sleep(args.seconds)
    main1, others1 = server.cpu_seconds()
    run = await run_task
    run.cpu_main, run.cpu_others = main1 - main0, others1 - others0
    return run


def _cpu(run: Run) -> str:
    main, others = run.cpu_per_request()
    return f"{main * 1e6:.0f} µs loop + {others * 1e6:.0f} µs other threads"


def _p50_p99(runs: list[Run]) -> str:
    return f"{ms(median([r.pct(50) for r in runs]))} / {ms(median([r.pct(99) for r in runs]))}"


def _cpu_median(runs: list[Run]) -> str:
    main = median([r.cpu_per_request()[0] for r in runs])
    others = median([r.cpu_per_request()[1] for r in runs])
    return f"{main * 1e6:.0f} + {others * 1e6:.0f} µs"


def _report(args: argparse.Namespace, results: dict[tuple[str, int], list[Run]]) -> bool:
    rows = []
    ok = True
    for concurrency in args.concurrency:
        bare = results[("bare", concurrency)]
        daemon = results[("daemon", concurrency)]
        ratios = [d.rps / b.rps for d, b in zip(daemon, bare, strict=True)]
        ratio = median(ratios)
        bad = any(status != 200 for run in (*bare, *daemon) for status in run.statuses) or any(
            run.errors for run in (*bare, *daemon)
        )
        target = ""
        if concurrency == 32:
            met = ratio >= TARGET_RATIO and not bad
            ok = ok and met
            target = f"≥ {TARGET_RATIO} x bare: {verdict(met)}"
        rows.append(
            [
                concurrency,
                f"{median([r.rps for r in bare]):.0f}",
                f"{median([r.rps for r in daemon]):.0f}",
                f"{ratio:.2f} ({', '.join(f'{r:.2f}' for r in ratios)})",
                _p50_p99(bare),
                _p50_p99(daemon),
                _cpu_median(bare),
                _cpu_median(daemon),
                target,
            ]
        )
        ok = ok and not bad
    print()
    print(
        table(
            [
                "concurrency",
                "bare req/s",
                "daemon req/s",
                "ratio (per run)",
                "bare p50 / p99",
                "daemon p50 / p99",
                "bare CPU/req",
                "daemon CPU/req",
                "target",
            ],
            rows,
        )
    )
    print(
        "\nmedians over the runs; the ratio is the median of the per-run ratios. CPU/req is "
        "the server's CPU time per answered request: event-loop thread + other threads "
        "(aiosqlite's)."
    )
    return ok
