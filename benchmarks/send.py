"""Benchmark 5: local-chain ``POST /v1/transactions/send`` throughput, one wallet and four.

Four concurrent senders in both cases: all on one wallet (the daemon runs a
wallet's sends one at a time), or one per wallet. The baseline is the chain
itself: the daemon's LocalChain (LiteSVM) preparing and submitting transfers in
this process with nothing else, the ceiling a send through the daemon can reach.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from solders.keypair import Keypair

from benchmarks._common import (
    SOL,
    Admin,
    RawConnection,
    Run,
    Server,
    closed_loop,
    header,
    median,
    ms,
    servers,
    start_daemon,
    table,
    temp_dir,
)
from waiaas_daemon.chain.local import LocalChain

AMOUNT = 1_000_000  # above the rent-exempt minimum, so a new recipient account is fine
SENDERS = 4


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)


def main(args: argparse.Namespace) -> bool:
    header("local-chain send_token throughput")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", {"max_sessions_per_wallet": 16})
        started.append(daemon)
        admin = Admin(daemon.base_url)
        recipient = admin.wallet("recipient")["address"]
        wallets = [admin.wallet(f"sender-{i}", airdrop=100 * SOL) for i in range(SENDERS)]
        tokens = [admin.session(w["id"])["token"] for w in wallets]
        admin.close()
        cases = {
            "one wallet": [tokens[0]] * SENDERS,
            "four wallets": tokens,
        }
        results: dict[str, list[Run]] = {name: [] for name in cases}
        chain_rates: list[float] = []
        for rep in range(args.repeat):
            chain_rates.append(asyncio.run(_chain_only(args.seconds)))
            print(f"  rep {rep + 1} LiteSVM alone     {chain_rates[-1]:8.0f} sends/s", flush=True)
            for name, case_tokens in cases.items():
                run = asyncio.run(_daemon_sends(daemon, case_tokens, recipient, args.seconds))
                results[name].append(run)
                print(
                    f"  rep {rep + 1} {name:<16} {_rate(run):8.1f} sends/s  p50 {ms(run.pct(50))} "
                    f"p99 {ms(run.pct(99))}  statuses {run.statuses}",
                    flush=True,
                )
    return _report(results, chain_rates)


async def _daemon_sends(daemon: Server, tokens: list[str], to: str, seconds: float) -> Run:
    host, port = daemon.host_port
    pending = iter(tokens)
    body = {"to": to, "amount": str(AMOUNT)}

    def connect() -> Any:
        conn = RawConnection(host, port)
        conn.token = next(pending)  # type: ignore[attr-defined]
        return conn

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {conn.token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(connect, request, concurrency=len(tokens), seconds=seconds)


async def _chain_only(seconds: float) -> float:
    chain = LocalChain()
    signer = Keypair()
    await chain.airdrop(str(signer.pubkey()), 1000 * SOL)
    to = str(Keypair().pubkey())
    count = 0
    end = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        prepared = await chain.prepare_transfer(signer, to, AMOUNT, None)
        outcome = await chain.submit(prepared)
        if outcome.status != "CONFIRMED":
            raise RuntimeError(f"LiteSVM transfer failed: {outcome.error}")
        count += 1
    return count / (time.perf_counter() - start)


def _rate(run: Run) -> float:
    """Sends answered 201 per second; the latencies cover every answer."""
    return run.statuses.get(201, 0) / run.seconds


def _report(results: dict[str, list[Run]], chain_rates: list[float]) -> bool:
    chain = median(chain_rates)
    rows = [["LiteSVM alone (in process, no daemon)", f"{chain:.0f}", "1.00", "—", "—"]]
    ok = True
    for name, runs in results.items():
        rate = median([_rate(r) for r in runs])
        ok = ok and all(set(r.statuses) == {201} and not r.errors for r in runs)
        rows.append(
            [
                f"daemon, {SENDERS} senders on {name}",
                f"{rate:.1f}",
                f"{median([_rate(r) / c for r, c in zip(runs, chain_rates, strict=True)]):.3f}",
                ms(median([r.pct(50) for r in runs])),
                ms(median([r.pct(99) for r in runs])),
            ]
        )
    print()
    print(table(["case", "sends/s", "x LiteSVM alone", "p50", "p99"], rows))
    print(
        "\nmedians over the runs; sends/s counts 201 answers only. No target is set for "
        "throughput; the check is that every send answers 201."
    )
    return ok
