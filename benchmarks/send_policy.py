"""Send latency with a full wallet policy versus none, same daemon, same run.

Two wallets on one local-chain daemon: one with every SPEC 12 rule set (limits
generous enough that each send stays INSTANT, so both cases sign and submit),
one with no policy. One sender at a time, the cases alternating, so the
difference is what the policy decision costs. Target: p50 at most 1 ms more.

    python -m benchmarks.send_policy [--seconds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
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
    verdict,
)

AMOUNT = 1_000_000
TARGET_EXTRA = 0.001  # seconds


def full_policy(recipient: str) -> dict[str, Any]:
    others = [str(Keypair().pubkey()) for _ in range(99)]
    mint = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    big = str(10**18)
    return {
        "instantMax": str(10 * SOL),
        "notifyMax": str(20 * SOL),
        "delayMax": str(30 * SOL),
        "delaySeconds": 900,
        "approvalTimeout": 3600,
        "dailyLimit": big,
        "monthlyLimit": big,
        "allowedRecipients": [*others, recipient],
        "maxSendsPerHour": 1_000_000,
        "autoSuspendAfterDenials": 10,
        "tokens": {mint: {"instantMax": "1", "dailyLimit": "10"}},
        "allowedTokens": [mint],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=3, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)


def main(args: argparse.Namespace) -> bool:
    header("send p50: full wallet policy versus none")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data")
        started.append(daemon)
        admin = Admin(daemon.base_url)
        recipient = admin.wallet("recipient", airdrop=SOL)["address"]
        plain = admin.wallet("no-policy", airdrop=1000 * SOL)
        ruled = admin.wallet("full-policy", airdrop=1000 * SOL)
        admin.master("PUT", f"/v1/wallets/{ruled['id']}/policy", 200, json=full_policy(recipient))
        tokens = {
            "no policy": admin.session(plain["id"])["token"],
            "full policy": admin.session(ruled["id"])["token"],
        }
        admin.close()
        results: dict[str, list[Run]] = {name: [] for name in tokens}
        for rep in range(args.repeat):
            for name, token in tokens.items():
                run = asyncio.run(_sends(daemon, token, recipient, args.seconds))
                results[name].append(run)
                print(
                    f"  rep {rep + 1} {name:<12} p50 {ms(run.pct(50))} p99 {ms(run.pct(99))} "
                    f"n {len(run.latencies)} statuses {run.statuses}",
                    flush=True,
                )
    return _report(results)


async def _sends(daemon: Server, token: str, to: str, seconds: float) -> Run:
    host, port = daemon.host_port
    body = {"to": to, "amount": str(AMOUNT)}

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(
        lambda: RawConnection(host, port), request, concurrency=1, seconds=seconds
    )


def decision_alone(recipient: str, rounds: int = 20_000) -> float:
    """Seconds per policy.load + decide of the full policy, in this process: the stable part."""
    import json
    import time

    from waiaas_daemon.domain import policy

    document = json.dumps(full_policy(recipient))
    totals = policy.Totals(daily=5 * SOL, monthly=50 * SOL, sends_this_hour=10, oldest_this_hour=0)
    start = time.perf_counter()
    for _ in range(rounds):
        rules = policy.load(document)
        policy.decide(rules, None, totals, to=recipient, amount=AMOUNT, now=1)
    return (time.perf_counter() - start) / rounds


def _report(results: dict[str, list[Run]]) -> bool:
    p50 = {name: median([r.pct(50) for r in runs]) for name, runs in results.items()}
    extra = p50["full policy"] - p50["no policy"]
    all_201 = all(set(r.statuses) == {201} for runs in results.values() for r in runs)
    rows = [
        [name, ms(p50[name]), ms(median([r.pct(99) for r in runs]))]
        for name, runs in results.items()
    ]
    print()
    print(table(["case", "p50", "p99"], rows))
    ok = all_201 and extra <= TARGET_EXTRA
    print(f"\nfull policy costs {ms(extra)} at p50 (target <= 1 ms): {verdict(ok)}")
    alone = decision_alone(str(Keypair().pubkey()))
    print(f"policy.load + decide of the full policy alone: {alone * 1e6:.1f} us per send")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.send_policy")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
