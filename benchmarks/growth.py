"""Benchmark 7: when it grows: sessionAuth on PostgreSQL, sends per second, 1-3 daemons.

``auth``: sessionAuth ``GET /v1/wallet/address`` at c=32 on SQLite and on
PostgreSQL (one daemon each), this build and, with ``--baseline-src``, the
build checked out there, runs alternating. Target: PostgreSQL at least 0.5x
SQLite in the same run.

``sends``: ``POST /v1/transactions/send`` per second, four senders on one
wallet and one sender on each of eight, on SQLite and PostgreSQL, this build
and the baseline build.

``scale``: the same GET and send load through 1, 2 and 3 daemons on one
PostgreSQL database, with each daemon's CPU and the database server's CPU
(all its processes) over the run, in percent of one core.

Every daemon uses the same JSON-RPC chain (the test suite's LiteSVM node,
confirming at once). The PostgreSQL server is the test suite's throwaway
cluster (``fsync=off``: the figures are of CPU and round trips, not disks).
``--baseline-src DIR``: a checkout of another commit (``git worktree add DIR
REV``); its ``packages/*/src`` are put first on the baseline daemons'
PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from benchmarks._common import SOL, Admin, Run, Server, header, median, servers, table, temp_dir
from benchmarks.postgres import _daemon, _gets, _sends
from tests.daemon.fake_rpc_node import FakeSolanaNode, ThreadedNode
from tests.support.postgres import Cluster, start_cluster

TICKS = os.sysconf("SC_CLK_TCK")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", choices=["auth", "sends", "scale", "all"], nargs="?", default="all")
    parser.add_argument("--seconds", type=float, default=4, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32, help="sessionAuth GET concurrency")
    parser.add_argument("--baseline-src", type=Path, help="a checkout of the baseline build")


def main(args: argparse.Namespace) -> bool:
    cluster = start_cluster()
    node = FakeSolanaNode(confirm_after_polls=0)
    ok = True
    try:
        with ThreadedNode(node) as threaded, temp_dir("waiaas-growth-") as tmp:
            bench = _Bench(args, cluster, node, threaded, tmp)
            if args.part in ("auth", "all"):
                header("sessionAuth GET: SQLite vs PostgreSQL (c=32)")
                ok = bench.auth() and ok
            if args.part in ("sends", "all"):
                header("sends per second: one wallet and eight, SQLite and PostgreSQL")
                bench.sends()
            if args.part in ("scale", "all"):
                header("one PostgreSQL database, 1, 2 and 3 daemons")
                bench.scale()
    finally:
        cluster.stop()
    return ok


def _builds(args: argparse.Namespace) -> list[tuple[str, dict[str, str] | None]]:
    builds: list[tuple[str, dict[str, str] | None]] = [("this build", None)]
    if args.baseline_src is not None:
        src = [str(p) for p in sorted((args.baseline_src / "packages").glob("*/src"))]
        if not src:
            raise SystemExit(f"{args.baseline_src}: no packages/*/src there")
        path = os.pathsep.join([*src, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        builds.append(("baseline", {"PYTHONPATH": path}))
    return builds


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _postgres_pids(cluster: Cluster) -> list[int]:
    """The cluster's postmaster and every backend it started."""
    postmaster = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


def _cpu_of(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            found[pid] = _cpu_seconds(pid)
        except OSError:
            found[pid] = 0.0
    return found


class _Bench:
    def __init__(
        self,
        args: argparse.Namespace,
        cluster: Cluster,
        node: FakeSolanaNode,
        threaded: ThreadedNode,
        tmp: Path,
    ) -> None:
        self.args = args
        self.cluster = cluster
        self.node = node
        self.threaded = threaded
        self.tmp = tmp
        self.runs = 0

    @contextmanager
    def daemons(
        self, count: int, postgres: bool, env: dict[str, str] | None
    ) -> Iterator[tuple[list[Server], list[str]]]:
        """``count`` daemons (one database), 8 funded wallets, a session token for each."""
        self.runs += 1
        url = self.cluster.create_database() if postgres else None
        with servers() as started:
            for n in range(count):
                here = self.tmp / f"r{self.runs}-d{n}"
                started.append(_daemon(here, self.threaded.url, url, env))
            admin = Admin(started[0].base_url)
            wallets = [admin.wallet(f"w{i}") for i in range(8)]
            for wallet in wallets:
                key = Pubkey.from_string(wallet["address"])
                self.threaded.call(lambda key=key: self.node.fund(key, 1000 * SOL))
            tokens = [admin.session(w["id"])["token"] for w in wallets]
            admin.close()
            yield started, tokens

    def auth(self) -> bool:
        builds = _builds(self.args)
        cases = [("SQLite", False, builds[0])]
        cases += [(f"PostgreSQL, {name}", True, (name, env)) for name, env in builds]
        rates: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        ratios: list[float] = []
        for rep in range(self.args.repeat):
            this_run: dict[str, float] = {}
            for name, postgres, (_, env) in cases:
                with self.daemons(1, postgres, env) as (daemons, tokens):
                    run = asyncio.run(_gets(daemons, tokens[0], self.args))
                rates[name].append(run.rps)
                this_run[name] = run.rps
                print(f"  rep {rep + 1} {name:<26} {run.rps:8.0f} req/s  {run.statuses}")
            ratios.append(this_run["PostgreSQL, this build"] / this_run["SQLite"])
        rows = [[name, f"{median(r):.0f}"] for name, r in rates.items()]
        print()
        print(table(["storage, build", f"GET req/s (c={self.args.clients})"], rows))
        ratio = median(ratios)
        ok = ratio >= 0.5
        print(
            f"\nPostgreSQL / SQLite, this build, same run: {ratio:.2f} x (target >= 0.5): "
            f"{'met' if ok else 'MISSED'}"
        )
        return ok

    def sends(self) -> None:
        builds = _builds(self.args)
        results: dict[tuple[str, str, str], list[float]] = {}
        for rep in range(self.args.repeat):
            for storage, postgres in (("SQLite", False), ("PostgreSQL", True)):
                for build, env in builds:
                    with self.daemons(1, postgres, env) as (daemons, tokens):
                        for case, senders in (("1 wallet", [tokens[0]] * 4), ("8 wallets", tokens)):
                            run = asyncio.run(_sends(daemons, senders, self.args))
                            rate = run.statuses.get(201, 0) / run.seconds
                            results.setdefault((storage, build, case), []).append(rate)
                            print(
                                f"  rep {rep + 1} {storage:<10} {build:<10} {case:<9} "
                                f"{rate:7.1f} sends/s  {run.statuses}",
                                flush=True,
                            )
        print()
        rows = []
        for storage in ("SQLite", "PostgreSQL"):
            for build, _ in builds:
                rows.append(
                    [
                        storage,
                        build,
                        *(
                            f"{median(results[(storage, build, case)]):.1f}"
                            for case in ("1 wallet", "8 wallets")
                        ),
                    ]
                )
        print(table(["storage", "build", "sends/s, 4 senders on 1 wallet", "8 wallets"], rows))

    def scale(self) -> None:
        rows = []
        for count in (1, 2, 3):
            gets: list[float] = []
            sends: list[float] = []
            cpu: dict[str, list[float]] = {}
            for _ in range(self.args.repeat):
                with self.daemons(count, True, None) as (daemons, tokens):
                    get, get_cpu = self._measured(
                        daemons, lambda d=daemons: _gets(d, tokens[0], self.args)
                    )
                    send, _ = self._measured(
                        daemons, lambda d=daemons: _sends(d, tokens, self.args)
                    )
                gets.append(get.rps)
                sends.append(send.statuses.get(201, 0) / send.seconds)
                for key, value in get_cpu.items():
                    cpu.setdefault(key, []).append(value)
                print(
                    f"  {count} daemon(s): GET {gets[-1]:7.0f} req/s, sends {sends[-1]:6.1f}/s; "
                    "GET CPU " + ", ".join(f"{k} {v:.0f} %" for k, v in get_cpu.items()),
                    flush=True,
                )
            rows.append(
                [
                    str(count),
                    f"{median(gets):.0f}",
                    f"{median(sends):.1f}",
                    " / ".join(f"{median(cpu[f'daemon {n + 1}']):.0f}" for n in range(count)),
                    f"{median(cpu['database']):.0f}",
                ]
            )
        print()
        print(
            table(
                [
                    "daemons",
                    f"GET req/s (c={self.args.clients})",
                    "sends/s (8 wallets)",
                    "daemon CPU % during GET",
                    "database CPU %",
                ],
                rows,
            )
        )

    def _measured(self, daemons: list[Server], load: Any) -> tuple[Run, dict[str, float]]:
        pids = {f"daemon {n + 1}": [d.process.pid] for n, d in enumerate(daemons)}
        pids["database"] = _postgres_pids(self.cluster)
        before = {name: _cpu_of(p) for name, p in pids.items()}
        started = time.monotonic()
        run = asyncio.run(load())
        elapsed = time.monotonic() - started
        after = {
            name: _cpu_of(_postgres_pids(self.cluster) if name == "database" else p)
            for name, p in pids.items()
        }
        cpu = {
            name: 100
            * sum(after[name].get(pid, 0.0) - before[name].get(pid, 0.0) for pid in after[name])
            / elapsed
            for name in pids
        }
        return run, cpu
