"""What valuing a send in dollars costs: no dollar rule, a cached price, a fetched price.

Two local-chain daemons whose [prices] point at the tests' loopback Pyth/CoinGecko/
Jupiter servers (tests/support/prices.py, in this process), the same build, same run:

- daemon A (max_age 3600): one wallet without any policy and one with a dollar
  policy (limits generous enough that every send stays INSTANT); one connection
  sends for each in turn, back to back: the paired difference is the valuation
  with the price already cached (policy read, Decimal arithmetic, the dollar
  totals in the send's query, the columns and audit details);
- daemon B (max_age 1, Pyth's quotes published 1 s ago): a price fetched is stale
  a second later, so sends paced 1.05 s apart, again the two wallets in turn, each
  fetch it again over HTTP (Hermes' JSON parsed and checked). Pyth's hit counter
  proves every priced send fetched.

Pairs cancel the drift of a shared, loaded machine; the median of the paired
differences is reported beside each case's p50.

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
    Server,
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
        loop: list[Pairs] = []
        paced: list[Pairs] = []
        fetched_before = fetched_fakes.pyth.hits
        for rep in range(args.repeat):
            pairs = asyncio.run(_alternating(a, tokens_a, to_a, seconds=args.seconds))
            loop.append(pairs)
            print(f"  rep {rep + 1} cached:  {pairs.line()}", flush=True)
            pairs = asyncio.run(_alternating(b, tokens_b, to_b, count=args.paced, pause=1.05))
            paced.append(pairs)
            print(f"  rep {rep + 1} fetched: {pairs.line()}", flush=True)
        fetches = fetched_fakes.pyth.hits - fetched_before
    return _report(loop, paced, fetches, args.repeat * args.paced)


class Pairs:
    """Send latencies of the two wallets, one after the other: (no rule, dollar rule)."""

    def __init__(self) -> None:
        self.plain: list[float] = []
        self.priced: list[float] = []
        self.statuses: dict[int, int] = {}

    def diff(self) -> float:
        """The median of each pair's difference: load drifts cancel within a pair."""
        return median([b - a for a, b in zip(self.plain, self.priced, strict=True)])

    def line(self) -> str:
        return (
            f"p50 {ms(median(self.plain))} vs {ms(median(self.priced))}, "
            f"paired difference {ms(self.diff())}, n {len(self.plain)} pairs, {self.statuses}"
        )


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


async def _alternating(
    daemon: Server,
    tokens: list[str],
    to: str,
    *,
    seconds: float | None = None,
    count: int | None = None,
    pause: float = 0.0,
) -> Pairs:
    """One send of each wallet in turn on one connection, for ``seconds`` or ``count`` pairs."""
    host, port = daemon.host_port
    conn = RawConnection(host, port)
    body = {"to": to, "amount": str(AMOUNT)}
    pairs = Pairs()
    end = time.perf_counter() + (seconds or 0)
    try:
        await _send(conn, tokens[0], body, pairs)  # warm up both before measuring
        await _send(conn, tokens[1], body, pairs)
        pairs.plain.clear()
        pairs.priced.clear()
        while (count is not None and len(pairs.plain) < count) or (
            count is None and time.perf_counter() < end
        ):
            for token in tokens:
                if pause:
                    await asyncio.sleep(pause)  # a fetched price is stale by then
                await _send(conn, token, body, pairs)
    finally:
        await conn.close()
    return pairs


async def _send(conn: Any, token: str, body: dict[str, str], pairs: Pairs) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    t0 = time.perf_counter()
    status, _ = await conn.request("POST", "/v1/transactions/send", headers, body)
    elapsed = time.perf_counter() - t0
    pairs.statuses[status] = pairs.statuses.get(status, 0) + 1
    (pairs.plain if len(pairs.plain) == len(pairs.priced) else pairs.priced).append(elapsed)


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


def _report(loop: list[Pairs], paced: list[Pairs], fetches: int, sends: int) -> bool:
    rows = []
    for label, runs in (("cached price (closed loop)", loop), ("fetched price (paced)", paced)):
        plain = median([median(r.plain) for r in runs])
        priced = median([median(r.priced) for r in runs])
        extra = median([r.diff() for r in runs])
        rows.append([label, ms(plain), ms(priced), ms(extra)])
    print()
    print(table(["case (same run)", "no dollar rule p50", "dollar rule p50", "paired +"], rows))
    print(f"\nPyth fetches by the paced priced sends: {fetches} of {sends} sends")
    cached, fetched = valuation_alone()
    print(
        f"PriceService.value alone: cached {cached * 1e6:.1f} us, "
        f"fetched from loopback Hermes {fetched * 1e3:.2f} ms"
    )
    statuses = {code for runs in (loop, paced) for r in runs for code in r.statuses}
    return statuses == {201} and fetches >= sends


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.usd_send")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
