"""Owner console page render time: overview and approvals with 20 wallets, 200 transactions.

In process (the daemon's own app through httpx's ASGITransport, local chain), so
the number is the page's work: database reads, the chain balance reads of the
overview, Jinja2 rendering and the console's guards, without a socket. Each
wallet has a policy that holds sends: 4 instant (CONFIRMED), 3 queued and 3
pending sends, so 200 transactions of which 120 wait on the approvals page.
Prices come from the tests' loopback Pyth/CoinGecko/Jupiter servers (SOL at $150):
the overview values every holding and the approvals every waiting send, from the
price service's cache once warm, as an owner's daemon does between two refreshes.

    python -m benchmarks.console_render [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from benchmarks._common import header, ms, table, temp_dir
from tests.support.prices import price_fakes
from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

PASSWORD = "bench-master-password"
MASTER = {"X-Master-Password": PASSWORD}
SAME_ORIGIN = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
SOL = 1_000_000_000
WALLETS = 20
HOLDING = {"instantMax": str(SOL // 10), "delayMax": str(SOL), "delaySeconds": 3600}
# Per wallet: (amount, how many): instant, queued (DELAY), pending (APPROVAL).
SENDS = ((SOL // 100, 4), (SOL // 2, 3), (2 * SOL, 3))
PAGES = {"overview": "/console/", "approvals": "/console/approvals"}


async def _ok(answer: httpx.Response, *codes: int) -> httpx.Response:
    if answer.status_code not in (codes or (200, 201)):
        raise SystemExit(f"setup failed: {answer.request.url} {answer.status_code} {answer.text}")
    return answer


async def populate(http: httpx.AsyncClient) -> int:
    """20 funded wallets with a holding policy and 10 sends each; returns the sends made."""
    payee = await _ok(await http.post("/v1/wallets", json={"name": "payee"}, headers=MASTER))
    to = payee.json()["address"]
    made = 0
    for i in range(WALLETS):
        wallet = (
            await _ok(
                await http.post("/v1/wallets", json={"name": f"agent-{i:02d}"}, headers=MASTER)
            )
        ).json()
        base = f"/v1/wallets/{wallet['id']}"
        await _ok(
            await http.post(f"{base}/airdrop", json={"amount": str(50 * SOL)}, headers=MASTER)
        )
        await _ok(await http.put(f"{base}/policy", json=HOLDING, headers=MASTER))
        session = await _ok(
            await http.post("/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER)
        )
        bearer = {"Authorization": f"Bearer {session.json()['token']}"}
        for amount, count in SENDS:
            for _ in range(count):
                body = {"to": to, "amount": str(amount)}
                await _ok(
                    await http.post("/v1/transactions/send", json=body, headers=bearer), 201, 202
                )
                made += 1
    return made


async def measure(http: httpx.AsyncClient, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in PAGES}
    for _ in range(rounds):
        for name, path in PAGES.items():  # alternating, so both see the same machine load
            start = time.perf_counter()
            answer = await http.get(path)
            times[name].append(time.perf_counter() - start)
            if answer.status_code != 200:
                raise SystemExit(f"{path}: {answer.status_code}")
    return times


async def main(rounds: int) -> None:
    with price_fakes() as fakes:
        fakes.set("SOL", "150")
        fakes.set("USDC", "1")
        await _run(rounds, Settings(min_session_ttl=10, session_ttl=3600, **fakes.config()))


async def _run(rounds: int, settings: Settings) -> None:
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with temp_dir("waiaas-console-bench-") as tmp:
        async with DaemonState.open(
            settings, Path(tmp) / "data", PASSWORD, kdf=light, hasher=cheap
        ) as state:
            transport = httpx.ASGITransport(app=create_app(state))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                made = await populate(http)
                signed = await http.post(
                    "/console/signin", data={"password": PASSWORD}, headers=SAME_ORIGIN
                )
                assert signed.status_code == 303, signed.text
                page = (await http.get("/console/approvals")).text
                waiting = len(re.findall(r"/approve\"", page))
                await measure(http, 10)  # warm-up: templates compiled, caches filled
                times = await measure(http, rounds)
    header("Console page render (in process)")
    print(f"{WALLETS} wallets, {made} transactions, {waiting} waiting; {rounds} rounds\n")
    rows = []
    for name, values in times.items():
        ordered = sorted(values)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        rows.append((name, ms(statistics.median(values)), ms(p99)))
    print(table(("page", "p50", "p99"), rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds))
    sys.exit(0)
