"""Load test: concurrent clients mixing reads, sends and renewals against one daemon.

    python -m benchmarks.load_test                      # 32 clients, 60 s
    python -m benchmarks.load_test --seconds 5 --clients 4

Each client holds its own session (TTL ``--ttl``) on one of ``--wallets``
wallets and renews it as soon as half its TTL has passed; otherwise it reads
(address, balance, a page of transactions, one of its own transactions) or, with
probability ``--send-share``, sends a random amount to the next wallet with a
unique memo. Afterwards it checks: no 5xx; every 201 send id present exactly
once in ``GET /v1/transactions`` pages; no memo recorded twice; every transfer
settled; every wallet's balance equal to its airdrop minus the confirmed sends
and fees plus the confirmed receipts. Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import (
    SOL,
    Admin,
    ConnectionLost,
    RawConnection,
    Server,
    header,
    ms,
    percentile,
    servers,
    start_daemon,
    table,
    temp_dir,
)

FEE = 5000  # lamports per signature on the local chain
AIRDROP = 2 * SOL
EXPECTED = {"renew": 200, "send": 201}  # every read: 200


@dataclass
class Client:
    index: int
    wallet: dict[str, Any]
    to: str
    session_id: str
    token: str
    renew_at: float
    conn: RawConnection
    my_txs: list[str] = field(default_factory=list)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    connection_errors: int = 0
    stale_renewals: int = 0  # 200 answers whose expiresAt is not the new token's exp
    sends: dict[str, dict[str, Any]] = field(default_factory=dict)  # memo → what we know

    def record(self, op: str, status: int, seconds: float, body: bytes) -> None:
        self.latencies.setdefault(op, []).append(seconds)
        self.statuses.setdefault(op, Counter())[status] += 1
        if status != EXPECTED.get(op, 200) and len(self.unexpected) < 20:
            self.unexpected.append(f"{op} {status} {body[:200]!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--wallets", type=int, default=4)
    parser.add_argument("--ttl", type=int, default=4, help="session TTL; renewed at half")
    parser.add_argument("--send-share", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the summary here")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_test", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    header(f"load test: {args.clients} clients, {args.seconds:g} s, {args.wallets} wallets")
    random.seed(args.seed)
    security = {
        "min_session_ttl": 1,
        "max_sessions_per_wallet": args.clients + 8,
        "max_renewals": 100_000,
    }
    with temp_dir("waiaas-load-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", security)
        started.append(daemon)
        admin = Admin(daemon.base_url)
        wallets = [admin.wallet(f"load-{i}", airdrop=AIRDROP) for i in range(args.wallets)]
        tally, elapsed = asyncio.run(_load(args, daemon, admin, wallets))
        checks = _verify(admin, wallets, tally)
        admin.close()
        daemon.stop()
        errors = [line for line in daemon.log if " ERROR " in line]
    summary = _report(args, tally, elapsed, checks, errors)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if all(ok for ok, _ in checks.values()) else 1


# -- the load ------------------------------------------------------------------------


async def _load(
    args: argparse.Namespace, daemon: Server, admin: Admin, wallets: list[dict[str, Any]]
) -> tuple[Tally, float]:
    host, port = daemon.host_port
    clients = []
    for i in range(args.clients):
        wallet = wallets[i % len(wallets)]
        session = admin.session(wallet["id"], expires_in=args.ttl)
        clients.append(
            Client(
                index=i,
                wallet=wallet,
                to=wallets[(i + 1) % len(wallets)]["address"],
                session_id=session["id"],
                token=session["token"],
                renew_at=renewal_opens(session["token"]),
                conn=RawConnection(host, port),
            )
        )
    tally = Tally()
    start = time.perf_counter()
    deadline = start + args.seconds
    try:
        await asyncio.gather(*(_client(c, args, tally, deadline) for c in clients))
    finally:
        for c in clients:
            await c.conn.close()
    return tally, time.perf_counter() - start


def renewal_opens(token: str) -> float:
    """Half the token's TTL after its iat (whole seconds), as waiaas-mcp schedules it."""
    claims = token_claims(token)
    return claims["iat"] + (claims["exp"] - claims["iat"]) / 2 + 0.05


def token_claims(token: str) -> dict[str, Any]:
    """The JWT payload, not verified: only the daemon can verify it, and it just did."""
    payload = token.removeprefix("wai_sess_").split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def _client(client: Client, args: argparse.Namespace, tally: Tally, deadline: float) -> None:
    rng = random.Random(args.seed * 1000 + client.index)
    while time.perf_counter() < deadline:
        if time.time() >= client.renew_at:
            await _renew(client, args, tally)
        elif rng.random() < args.send_share:
            await _send(client, rng, tally)
        else:
            await _read(client, rng, tally)


async def _call(
    client: Client, tally: Tally, op: str, method: str, path: str, body: Any = None
) -> tuple[int, bytes] | None:
    headers = {"Authorization": f"Bearer {client.token}"}
    t0 = time.perf_counter()
    try:
        status, data = await client.conn.request(method, path, headers, body)
    except ConnectionLost:
        tally.connection_errors += 1
        return None
    tally.record(op, status, time.perf_counter() - t0, data)
    return status, data


async def _renew(client: Client, args: argparse.Namespace, tally: Tally) -> None:
    answer = await _call(client, tally, "renew", "PUT", f"/v1/sessions/{client.session_id}/renew")
    if answer is None or answer[0] != 200:
        client.renew_at = time.time() + 0.5
        return
    renewed = json.loads(answer[1])
    claims = token_claims(renewed["token"])
    if renewed["expiresAt"] != claims["exp"]:
        tally.stale_renewals += 1
    client.token = renewed["token"]
    client.renew_at = renewal_opens(renewed["token"])


async def _send(client: Client, rng: random.Random, tally: Tally) -> None:
    memo = f"lt-{uuid.uuid4().hex}"
    amount = rng.randint(1, 10_000)
    tally.sends[memo] = {"wallet": client.wallet["id"], "amount": amount, "status": None}
    body = {"to": client.to, "amount": str(amount), "memo": memo}
    answer = await _call(client, tally, "send", "POST", "/v1/transactions/send", body)
    if answer is None:
        tally.sends[memo]["status"] = "unknown (connection lost)"
        return
    status, data = answer
    tally.sends[memo]["http"] = status
    if status == 201:
        tx = json.loads(data)
        tally.sends[memo].update(id=tx["id"], status=tx["status"])
        client.my_txs.append(tx["id"])


async def _read(client: Client, rng: random.Random, tally: Tally) -> None:
    pick = rng.random()
    if pick < 0.4:
        await _call(client, tally, "GET address", "GET", "/v1/wallet/address")
    elif pick < 0.7:
        await _call(client, tally, "GET balance", "GET", "/v1/wallet/balance")
    elif pick < 0.85 or not client.my_txs:
        await _call(client, tally, "GET transactions", "GET", "/v1/transactions?limit=20")
    else:
        tx_id = rng.choice(client.my_txs)
        await _call(client, tally, "GET transaction", "GET", f"/v1/transactions/{tx_id}")


# -- the checks -----------------------------------------------------------------------


def _verify(
    admin: Admin, wallets: list[dict[str, Any]], tally: Tally
) -> dict[str, tuple[bool, str]]:
    listings: dict[str, list[dict[str, Any]]] = {}
    balances: dict[str, int] = {}
    for wallet in wallets:
        token = admin.session(wallet["id"], expires_in=300)["token"]
        listings[wallet["id"]] = _all_transactions(admin, token)
        balances[wallet["id"]] = int(
            admin.bearer(token, "GET", "/v1/wallet/balance", 200)["balance"]
        )
    items = [tx for listing in listings.values() for tx in listing]
    checks: dict[str, tuple[bool, str]] = {}

    fives = sum(n for c in tally.statuses.values() for s, n in c.items() if s >= 500)
    checks["no 5xx"] = (fives == 0, f"{fives} responses with status ≥ 500")
    others = sum(
        n for op, c in tally.statuses.items() for s, n in c.items() if s != EXPECTED.get(op, 200)
    )
    checks["every answer the expected one"] = (
        others == 0 and tally.connection_errors == 0,
        f"{others} unexpected statuses, {tally.connection_errors} connection errors",
    )

    renewals = tally.statuses.get("renew", Counter())[200]
    checks["renewal answers describe the new token"] = (
        tally.stale_renewals == 0,
        f"{tally.stale_renewals} of {renewals} renewals answered an expiresAt other than "
        "the new token's exp",
    )

    id_counts = Counter(tx["id"] for tx in items)
    accepted = [s for s in tally.sends.values() if s.get("http") == 201]
    missing = [s["id"] for s in accepted if id_counts[s["id"]] == 0]
    doubled = [s["id"] for s in accepted if id_counts[s["id"]] > 1]
    checks["every 201 send listed exactly once"] = (
        not missing and not doubled,
        f"{len(accepted)} sends answered 201; {len(missing)} missing, {len(doubled)} listed twice",
    )

    memos = Counter(tx["memo"] for tx in items if tx["type"] == "TRANSFER")
    repeated = [m for m, n in memos.items() if n > 1]
    unaccounted = [
        m for m in memos if m not in tally.sends or tally.sends[m].get("http") not in (201, None)
    ]
    checks["no duplicated or stray transfer"] = (
        not repeated and not unaccounted,
        f"{len(repeated)} memos recorded twice, {len(unaccounted)} transfers without a 201",
    )

    transfers = [tx for tx in items if tx["type"] == "TRANSFER"]
    unsettled = Counter(tx["status"] for tx in transfers if tx["status"] != "CONFIRMED")
    checks["every transfer confirmed"] = (
        not unsettled,
        f"{len(transfers)} transfers; not confirmed: {dict(unsettled) or 'none'}",
    )

    wrong = []
    by_address = {w["address"]: w["id"] for w in wallets}
    expected = dict.fromkeys(balances, 0)
    for wallet_id, listing in listings.items():
        for tx in listing:
            if tx["status"] != "CONFIRMED":
                continue
            amount = int(tx["amount"])
            if tx["type"] == "AIRDROP":
                expected[wallet_id] += amount
            elif tx["type"] == "TRANSFER":
                expected[wallet_id] -= amount + FEE
                if tx["to"] in by_address:
                    expected[by_address[tx["to"]]] += amount
    for wallet_id, balance in balances.items():
        if balance != expected[wallet_id]:
            wrong.append(f"{wallet_id[:8]}: {balance} != {expected[wallet_id]}")
    checks["ledger balances match the confirmed transfers"] = (
        not wrong,
        "; ".join(wrong) or f"{len(balances)} wallets, airdrops - sends - fees + receipts",
    )
    return checks


def _all_transactions(admin: Admin, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = "/v1/transactions?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = admin.bearer(token, "GET", query, 200)
        items.extend(page["items"])
        cursor = page["cursor"]
        if cursor is None:
            return items


# -- the report -----------------------------------------------------------------------


def _report(
    args: argparse.Namespace,
    tally: Tally,
    elapsed: float,
    checks: dict[str, tuple[bool, str]],
    errors: list[str],
) -> dict[str, Any]:
    rows = []
    every: list[float] = []
    for op in sorted(tally.latencies):
        values = tally.latencies[op]
        every.extend(values)
        rows.append(
            [
                op,
                len(values),
                f"{len(values) / elapsed:.1f}",
                dict(sorted(tally.statuses[op].items())),
                ms(percentile(values, 50)),
                ms(percentile(values, 99)),
            ]
        )
    rows.append(
        [
            "all",
            len(every),
            f"{len(every) / elapsed:.1f}",
            "",
            ms(percentile(every, 50)),
            ms(percentile(every, 99)),
        ]
    )
    print(table(["request", "count", "per s", "statuses", "p50", "p99"], rows))
    print()
    for name, (ok, detail) in checks.items():
        print(f"- {'PASS' if ok else 'FAIL'} {name}: {detail}")
    if tally.unexpected:
        print("\nfirst unexpected answers:")
        for line in tally.unexpected[:10]:
            print(f"  {line}")
    if errors:
        print(f"\ndaemon logged {len(errors)} ERROR lines, first: {errors[0]}")
    return {
        "seconds": elapsed,
        "clients": args.clients,
        "requests": len(every),
        "p50": percentile(every, 50),
        "p99": percentile(every, 99),
        "statuses": {op: dict(c) for op, c in tally.statuses.items()},
        "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
        "daemon_errors": len(errors),
    }


if __name__ == "__main__":
    sys.exit(main())
