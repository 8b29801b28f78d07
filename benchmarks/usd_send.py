"""What valuing a send in dollars costs: no dollar rule, a cached price, a fetched price.

Two local-chain daemons whose [prices] point at the tests' loopback Pyth/CoinGecko/
Jupiter servers (tests/support/prices.py, in this process), the same build, same run:

- daemon A (max_age 3600): one wallet without any policy and one with a dollar
  policy (limits generous enough that every send stays INSTANT), sends one at a
  time in a closed loop, the two cases alternating: the difference is the
  valuation with the price already cached (policy read, Decimal arithmetic, the
  dollar totals in the send's query, the columns and audit details);
- daemon B (max_age 1, Pyth's quotes published 1 s ago): a price fetched is stale
  a second later, so sends paced 1.05 s apart each fetch it again over HTTP
  (Hermes' JSON parsed and checked); beside it, paced the same way, sends of a
  wallet without dollar rules on the same daemon. Pyth's hit counter proves
  every priced send fetched.

Also, in this process: ``PriceService.value`` alone, cached and uncached.

    python -m benchmarks.usd_send [--seconds 3] [--repeat 3] [--paced 12]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
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

AMOUNT = 1_000_000
USD_POLICY = {"usd": {"instantMax": "1000000", "dailyLimit": "100000000"}}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=3, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--paced", type=int, default=12, help="paced sends per uncached run")


def prices_section(fakes: Any, max_age: int) -> str:
    return (
        "[prices]\n"
        f'pyth_url = "{fakes.pyth.url}"\n'
        f'coingecko_url = "{fakes.coingecko.url}"\n'
        f'jupiter_url = "{fakes.jupiter.url}"\n'
        f"max_age = {max_age}\n"
    )


def main(args: argparse.Namespace) -> bool:
    from tests.support.prices import price_fakes

    header("send p50: no dollar rule, dollar rule with a cached price, with a fetched price")
    with (
        temp_dir("waiaas-bench-") as tmp,
        servers() as started,
        price_fakes() as cached_fakes,
        price_fakes() as fetched_fakes,
    ):
        cached_fakes.set("SOL", "150")
        fetched_fakes.set("SOL", "150", age=1)
        a = start_daemon(tmp / "a", extra_config=prices_section(cached_fakes, 3600))
        b = start_daemon(tmp / "b", extra_config=prices_section(fetched_fakes, 1))
        started.extend([a, b])
        tokens_a, to_a = _wallets(a)
        tokens_b, to_b = _wallets(b)
        loop: dict[str, list[Run]] = {"no dollar rule": [], "dollar rule, cached price": []}
        paced: dict[str, list[list[float]]] = {
            "no dollar rule (paced)": [],
            "dollar rule, fetched price (paced)": [],
        }
        fetched_before = fetched_fakes.pyth.hits
        for rep in range(args.repeat):
            for name, token in zip(loop, tokens_a, strict=True):
                run = asyncio.run(_sends(a, token, to_a, args.seconds))
                loop[name].append(run)
                print(
                    f"  rep {rep + 1} {name:<36} p50 {ms(run.pct(50))} n {len(run.latencies)} "
                    f"statuses {run.statuses}",
                    flush=True,
                )
            for name, token in zip(paced, tokens_b, strict=True):
                times = asyncio.run(_paced(b, token, to_b, args.paced))
                paced[name].append(times)
                print(f"  rep {rep + 1} {name:<36} p50 {ms(median(times))}", flush=True)
        fetches = fetched_fakes.pyth.hits - fetched_before
    return _report(loop, paced, fetches, args.repeat * args.paced)


def _wallets(daemon: Server) -> tuple[list[str], str]:
    admin = Admin(daemon.base_url)
    try:
        recipient = admin.wallet("recipient", airdrop=SOL)["address"]
        plain = admin.wallet("no-usd", airdrop=1000 * SOL)
        priced = admin.wallet("usd", airdrop=1000 * SOL)
        admin.master("PUT", f"/v1/wallets/{priced['id']}/policy", 200, json=USD_POLICY)
        return [admin.session(w["id"])["token"] for w in (plain, priced)], recipient
    finally:
        admin.close()


async def _sends(daemon: Server, token: str, to: str, seconds: float) -> Run:
    host, port = daemon.host_port
    body = {"to": to, "amount": str(AMOUNT)}

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(
        lambda: RawConnection(host, port), request, concurrency=1, seconds=seconds
    )


async def _paced(daemon: Server, token: str, to: str, count: int) -> list[float]:
    host, port = daemon.host_port
    conn = RawConnection(host, port)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"to": to, "amount": str(AMOUNT)}
    times: list[float] = []
    try:
        for _ in range(count):
            await asyncio.sleep(1.05)  # the fetched price is stale by the next send
            t0 = time.perf_counter()
            status, _ = await conn.request("POST", "/v1/transactions/send", headers, body)
            times.append(time.perf_counter() - t0)
            assert status == 201, status
    finally:
        await conn.close()
    return times


def valuation_alone(rounds: int = 200) -> tuple[float, float]:
    """Seconds per ``PriceService.value`` in this process: (cached, fetched over HTTP)."""
    from tests.support.prices import price_fakes
    from waiaas_core.config import Settings
    from waiaas_daemon.domain.prices import Asset, PriceService

    async def measure(fakes: Any) -> tuple[float, float]:
        settings = Settings(pyth_url=fakes.pyth.url, coingecko_url="", jupiter_url="")
        service = PriceService(settings, time.time)
        sol = Asset("solana", "mainnet", None)
        await service.value(sol, AMOUNT, 9)
        start = time.perf_counter()
        for _ in range(rounds * 10):
            await service.value(sol, AMOUNT, 9)
        cached = (time.perf_counter() - start) / (rounds * 10)
        start = time.perf_counter()
        for _ in range(rounds):
            service._cache.clear()  # the benchmark's own: force the fetch
            await service.value(sol, AMOUNT, 9)
        fetched = (time.perf_counter() - start) / rounds
        await service.aclose()
        return cached, fetched

    with price_fakes() as fakes:
        fakes.set("SOL", "150")
        return asyncio.run(measure(fakes))


def _report(
    loop: dict[str, list[Run]], paced: dict[str, list[list[float]]], fetches: int, sends: int
) -> bool:
    rows = [
        [name, ms(median([r.pct(50) for r in runs])), ms(median([r.pct(99) for r in runs]))]
        for name, runs in loop.items()
    ]
    rows += [
        [name, ms(median([median(t) for t in runs])), ms(median([max(t) for t in runs]))]
        for name, runs in paced.items()
    ]
    print()
    print(table(["case (same run)", "p50", "p99 (paced: max)"], rows))
    loop_p50 = [median([r.pct(50) for r in runs]) for runs in loop.values()]
    paced_p50 = [median([median(t) for t in runs]) for runs in paced.values()]
    print(f"\ncached valuation: {ms(loop_p50[1] - loop_p50[0])} at p50 over no dollar rule")
    print(f"fetched valuation: {ms(paced_p50[1] - paced_p50[0])} at p50 over no dollar rule")
    print(f"Pyth fetches by the paced priced sends: {fetches} of {sends} sends")
    cached, fetched = valuation_alone()
    print(
        f"PriceService.value alone: cached {cached * 1e6:.1f} us, "
        f"fetched from loopback Hermes {fetched * 1e3:.2f} ms"
    )
    all_201 = all(set(r.statuses) == {201} for runs in loop.values() for r in runs)
    return all_201 and fetches >= sends


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.usd_send")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
