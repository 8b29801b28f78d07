"""Token sends per second on one wallet next to SOL sends, same daemon, same run (SPEC 14).

One local-chain daemon, one wallet, four concurrent senders (the daemon runs a
wallet's sends one at a time); cases alternate within each repetition: SOL
sends, then USDC sends of the local test mint to a recipient whose token
account already exists (the first token send, which creates it, is made at
setup). Both go through the same path: lock, policy, balance, record, sign,
submit, settle; a token send reads more from the chain (mint, token balance,
recipient account) and runs a bigger transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

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

SENDERS = 4
USDC = 10**6
BODIES = {
    "SOL": {"amount": "1000000"},
    "USDC": {"amount": "1000", "token": "USDC"},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=2, help="measured seconds per case")
    parser.add_argument("--repeat", type=int, default=5)


def main(args: argparse.Namespace) -> bool:
    header("token sends vs SOL sends, one wallet")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", {"max_sessions_per_wallet": 16})
        started.append(daemon)
        admin = Admin(daemon.base_url)
        recipient = admin.wallet("recipient", airdrop=SOL)["address"]
        sender = admin.wallet("sender", airdrop=1000 * SOL)
        airdrop = f"/v1/wallets/{sender['id']}/airdrop"
        admin.master("POST", airdrop, 201, json={"amount": str(10**6 * USDC), "token": "USDC"})
        token = admin.session(sender["id"])["token"]
        first = {"to": recipient, **BODIES["USDC"]}
        headers = {"Authorization": f"Bearer {token}"}
        admin.call("POST", "/v1/transactions/send", 201, json=first, headers=headers)
        admin.close()
        results: dict[str, list[Run]] = {name: [] for name in BODIES}
        for rep in range(args.repeat):
            for name, body in BODIES.items():
                run = asyncio.run(_sends(daemon, token, {"to": recipient, **body}, args.seconds))
                results[name].append(run)
                print(
                    f"  rep {rep + 1} {name:<5} {_rate(run):8.1f} sends/s  p50 {ms(run.pct(50))} "
                    f"p99 {ms(run.pct(99))}  statuses {run.statuses}",
                    flush=True,
                )
    return _report(results)


async def _sends(daemon: Server, token: str, body: dict[str, str], seconds: float) -> Run:
    host, port = daemon.host_port

    def connect() -> Any:
        return RawConnection(host, port)

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(connect, request, concurrency=SENDERS, seconds=seconds)


def _rate(run: Run) -> float:
    return run.statuses.get(201, 0) / run.seconds


def _report(results: dict[str, list[Run]]) -> bool:
    sol = median([_rate(r) for r in results["SOL"]])
    rows = []
    for name, runs in results.items():
        rate = median([_rate(r) for r in runs])
        rows.append(
            [
                f"{name}, {SENDERS} senders on one wallet",
                f"{rate:.1f}",
                f"{rate / sol:.2f}",
                ms(median([r.pct(50) for r in runs])),
                ms(median([r.pct(99) for r in runs])),
            ]
        )
    ok = all(set(r.statuses) == {201} and not r.errors for runs in results.values() for r in runs)
    print()
    print(table(["case", "sends/s", "x SOL", "p50", "p99"], rows))
    print("\nmedians over the runs; sends/s counts 201 answers only; check: every send 201.")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.token_send")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
