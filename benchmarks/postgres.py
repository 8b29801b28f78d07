"""Benchmark 6: PostgreSQL storage: the drivers, then SQLite vs PostgreSQL and 1 vs 2 daemons.

``drivers``: psycopg 3 and asyncpg on one throwaway server, each on one
connection: a sessionAuth-like read (a session row by primary key) and an
insert, one statement at a time, as the daemon issues them.

``storage``: the same workloads through real daemons, in the same run:
sessionAuth ``GET /v1/wallet/address`` (c=32) and ``POST /v1/transactions/send``
(one sender per wallet) on SQLite (one daemon), PostgreSQL (one daemon) and
PostgreSQL (two daemons, the clients split between them). Every daemon uses
the same JSON-RPC chain (the test suite's LiteSVM node, confirming at once),
since several daemons cannot share the in-process chain.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from benchmarks._common import (
    PASSWORD,
    SOL,
    STACKS,
    Admin,
    RawConnection,
    Run,
    Server,
    closed_loop,
    header,
    median,
    ms,
    servers,
    spawn_server,
    table,
    temp_dir,
)
from tests.daemon.fake_rpc_node import FakeSolanaNode, ThreadedNode
from tests.support.postgres import Cluster, start_cluster

AMOUNT = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("part", choices=["drivers", "storage", "all"], nargs="?", default="all")
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ops", type=int, default=3000, help="statements per driver run")
    parser.add_argument("--clients", type=int, default=32, help="sessionAuth GET concurrency")
    parser.add_argument("--senders", type=int, default=8, help="send concurrency (wallets)")


def main(args: argparse.Namespace) -> bool:
    cluster = start_cluster()
    try:
        if args.part in ("drivers", "all"):
            header("PostgreSQL drivers: psycopg 3 vs asyncpg")
            _drivers(args, cluster)
        if args.part in ("storage", "all"):
            header("sessionAuth GET and send: SQLite vs PostgreSQL, 1 vs 2 daemons")
            _storage(args, cluster)
    finally:
        cluster.stop()
    return True


# -- drivers -------------------------------------------------------------------------

SCHEMA = (
    "CREATE TABLE s (id TEXT PRIMARY KEY, wallet_id TEXT NOT NULL, token_hash TEXT NOT NULL, "
    "expires_at BIGINT NOT NULL, revoked_at BIGINT, constraints TEXT)"
)


def _drivers(args: argparse.Namespace, cluster: Cluster) -> None:
    try:
        import psycopg  # noqa: F401 - only this comparison needs it
    except ImportError:
        print("psycopg is not installed (pip install 'psycopg[binary]'): driver comparison skipped")
        return
    rows: dict[tuple[str, str], list[float]] = {}
    for rep in range(args.repeat):
        for name, bench in (("psycopg 3", _psycopg), ("asyncpg", _asyncpg)):
            url = cluster.create_database()
            read, insert = asyncio.run(bench(url, args.ops))
            rows.setdefault((name, "read"), []).append(read)
            rows.setdefault((name, "insert"), []).append(insert)
            print(f"  rep {rep + 1} {name:<10} read {read:8.0f}/s  insert {insert:8.0f}/s")
    print()
    print(
        table(
            ["driver", "read by key /s", "insert /s"],
            [
                [
                    name,
                    f"{median(rows[(name, 'read')]):.0f}",
                    f"{median(rows[(name, 'insert')]):.0f}",
                ]
                for name in ("psycopg 3", "asyncpg")
            ],
        )
    )


async def _psycopg(url: str, ops: int) -> tuple[float, float]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(SCHEMA)
        ids = [str(uuid.uuid4()) for _ in range(ops)]
        start = time.perf_counter()
        for i in ids:
            await conn.execute(
                "INSERT INTO s (id, wallet_id, token_hash, expires_at) VALUES (%s, %s, %s, %s)",
                (i, "w", "h", 1),
            )
        insert = ops / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in ids:
            cursor = await conn.execute("SELECT * FROM s WHERE id = %s", (i,))
            await cursor.fetchone()
        read = ops / (time.perf_counter() - start)
    return read, insert


async def _asyncpg(url: str, ops: int) -> tuple[float, float]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SCHEMA)
        ids = [str(uuid.uuid4()) for _ in range(ops)]
        start = time.perf_counter()
        for i in ids:
            await conn.execute(
                "INSERT INTO s (id, wallet_id, token_hash, expires_at) VALUES ($1, $2, $3, $4)",
                i,
                "w",
                "h",
                1,
            )
        insert = ops / (time.perf_counter() - start)
        start = time.perf_counter()
        for i in ids:
            await conn.fetchrow("SELECT * FROM s WHERE id = $1", i)
        read = ops / (time.perf_counter() - start)
    finally:
        await conn.close()
    return read, insert


# -- the daemons -------------------------------------------------------------------------


def _daemon(
    data_dir: Path,
    node_url: str,
    storage_url: str | None,
    env: dict[str, str] | None = None,
) -> Server:
    data_dir.mkdir(parents=True, mode=0o700)
    lines = [
        "[security]",
        "max_sessions_per_wallet = 64",
        "[solana]",
        'network = "devnet"',
        f'rpc_url = "{node_url}"',
    ]
    if storage_url:
        lines += ["[storage]", f'url = "{storage_url}"']
    (data_dir / "config.toml").write_text("\n".join(lines) + "\n")
    argv = [
        *("python", "-m", "waiaas_daemon", "serve", "--data-dir", str(data_dir), "--port", "0"),
        *STACKS["standard"],
    ]
    import sys

    argv[0] = sys.executable
    server = spawn_server(
        "waiaas-daemon", argv, env={"WAIAAS_MASTER_PASSWORD": PASSWORD, **(env or {})}
    )
    server.data_dir = data_dir
    return server


@contextmanager
def _setup(
    tmp: Path, node: ThreadedNode, storage_url: str | None, count: int
) -> Iterator[list[Server]]:
    with servers() as started:
        for n in range(count):
            started.append(_daemon(tmp / f"d{n}", node.url, storage_url))
        yield started


def _storage(args: argparse.Namespace, cluster: Cluster) -> None:
    cases = [("SQLite, 1 daemon", False, 1), ("PostgreSQL, 1 daemon", True, 1)]
    cases.append(("PostgreSQL, 2 daemons", True, 2))
    results: dict[tuple[str, str], list[float]] = {}
    latencies: dict[tuple[str, str], list[Run]] = {}
    node = FakeSolanaNode(confirm_after_polls=0)
    with ThreadedNode(node) as threaded, temp_dir("waiaas-bench-") as tmp:
        for rep in range(args.repeat):
            for name, postgres, count in cases:
                url = cluster.create_database() if postgres else None
                here = tmp / f"{rep}-{count}-{int(postgres)}"
                with _setup(here, threaded, url, count) as daemons:
                    admin = Admin(daemons[0].base_url)
                    wallets = [admin.wallet(f"w{i}") for i in range(args.senders)]
                    for wallet in wallets:
                        key = Pubkey.from_string(wallet["address"])
                        threaded.call(lambda key=key: node.fund(key, 1000 * SOL))
                    tokens = [admin.session(w["id"])["token"] for w in wallets]
                    admin.close()
                    get = asyncio.run(_gets(daemons, tokens[0], args))
                    sends = asyncio.run(_sends(daemons, tokens, args))
                for kind, run, rate in (
                    ("GET", get, get.rps),
                    ("send", sends, sends.statuses.get(201, 0) / sends.seconds),
                ):
                    results.setdefault((name, kind), []).append(rate)
                    latencies.setdefault((name, kind), []).append(run)
                    print(
                        f"  rep {rep + 1} {name:<22} {kind:<4} {rate:8.1f}/s  "
                        f"p50 {ms(run.pct(50))}  p99 {ms(run.pct(99))}  statuses {run.statuses}",
                        flush=True,
                    )
    rows = []
    for name, _, _ in cases:
        row: list[Any] = [name]
        for kind in ("GET", "send"):
            runs = latencies[(name, kind)]
            p50, p99 = (ms(median([r.pct(q) for r in runs])) for q in (50, 99))
            row += [f"{median(results[(name, kind)]):.0f}", f"{p50} / {p99}"]
        rows.append(row)
    print()
    print(
        table(
            [
                "storage",
                f"GET req/s (c={args.clients})",
                "GET p50 / p99",
                f"sends/s ({args.senders} wallets)",
                "send p50 / p99",
            ],
            rows,
        )
    )


def _spread(daemons: list[Server]) -> Callable[[], RawConnection]:
    """Connections to the daemons in turn: the clients split evenly."""
    turn = itertools.cycle(daemons)

    def connect() -> RawConnection:
        host, port = next(turn).host_port
        return RawConnection(host, port)

    return connect


async def _gets(daemons: list[Server], token: str, args: argparse.Namespace) -> Run:
    headers = {"Authorization": f"Bearer {token}"}

    async def request(conn: Any) -> tuple[int, bytes]:
        return await conn.request("GET", "/v1/wallet/address", headers)

    return await closed_loop(
        _spread(daemons), request, concurrency=args.clients, seconds=args.seconds
    )


async def _sends(daemons: list[Server], tokens: list[str], args: argparse.Namespace) -> Run:
    to = str(Keypair().pubkey())
    pending = iter(tokens)
    connect = _spread(daemons)
    amounts = itertools.count(AMOUNT)  # no two equal transfers on one blockhash

    def connect_with_token() -> Any:
        conn = connect()
        conn.token = next(pending)  # type: ignore[attr-defined]
        return conn

    async def request(conn: Any) -> tuple[int, bytes]:
        body = {"to": to, "amount": str(next(amounts))}
        headers = {"Authorization": f"Bearer {conn.token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(
        connect_with_token, request, concurrency=len(tokens), seconds=args.seconds
    )
