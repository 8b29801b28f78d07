"""Benchmark 2: ``POST /v1/sessions`` (masterAuth) and ``PUT /v1/sessions/{id}/renew``, p50/p99.

One request at a time. Sessions live 4 s, so each is renewed once as soon as
half its TTL has passed (the daemon refuses earlier renewals). The baseline is
the bare endpoint answering the same shapes; for scale, one argon2 verification
of the master hash is timed too: a create far below it does not re-hash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from argon2 import PasswordHasher

from benchmarks._common import (
    PASSWORD,
    STACKS,
    Admin,
    RawConnection,
    Server,
    header,
    median,
    ms,
    percentile,
    servers,
    start_bare,
    start_daemon,
    table,
    temp_dir,
    verdict,
)

TARGET_P50 = 0.002
TTL = 4
SECURITY = {"min_session_ttl": 1, "max_sessions_per_wallet": 100_000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sessions", type=int, default=300, help="sessions per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stack", choices=sorted(STACKS), default="standard")


def main(args: argparse.Namespace) -> bool:
    header("POST /v1/sessions and PUT /v1/sessions/{id}/renew")
    argon2_s = _argon2_verify_seconds()
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", SECURITY, args.stack)
        started.append(daemon)
        admin = Admin(daemon.base_url)
        wallet_id = admin.wallet("bench")["id"]
        admin.close()
        bare = start_bare({}, args.stack)
        print(f"stack: {' '.join(STACKS[args.stack])}\n")
        started.append(bare)
        runs: dict[tuple[str, str], list[list[float]]] = {}
        for rep in range(args.repeat):
            for name, server in (("bare", bare), ("daemon", daemon)):
                create, renew = asyncio.run(_one(server, wallet_id, args.sessions))
                runs.setdefault((name, "create"), []).append(create)
                runs.setdefault((name, "renew"), []).append(renew)
                print(
                    f"  rep {rep + 1} {name:<6} create p50 {ms(percentile(create, 50))} "
                    f"p99 {ms(percentile(create, 99))}   renew p50 {ms(percentile(renew, 50))} "
                    f"p99 {ms(percentile(renew, 99))}",
                    flush=True,
                )
    return _report(runs, argon2_s)


async def _one(server: Server, wallet_id: str, count: int) -> tuple[list[float], list[float]]:
    conn = RawConnection(*server.host_port)
    master = {"X-Master-Password": PASSWORD}
    body = {"walletId": wallet_id, "expiresIn": TTL}
    created: list[tuple[float, str, str]] = []
    create_times: list[float] = []
    try:
        for _ in range(count):
            t0 = time.perf_counter()
            status, data = await conn.request("POST", "/v1/sessions", master, body)
            create_times.append(time.perf_counter() - t0)
            if status != 201:
                raise RuntimeError(f"create: {status} {data!r}")
            session = json.loads(data)
            # iat is whole seconds (the token's claim); renewal opens at iat + TTL/2.
            created.append((float(int(time.time())), session["id"], session["token"]))
        renew_times: list[float] = []
        for iat, session_id, token in created:
            wait = iat + TTL / 2 + 0.05 - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            headers = {"Authorization": f"Bearer {token}"}
            t0 = time.perf_counter()
            status, data = await conn.request("PUT", f"/v1/sessions/{session_id}/renew", headers)
            renew_times.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"renew: {status} {data!r}")
    finally:
        await conn.close()
    return create_times, renew_times


def _argon2_verify_seconds() -> float:
    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append(time.perf_counter() - t0)
    return median(times)


def _report(runs: dict[tuple[str, str], list[list[float]]], argon2_s: float) -> bool:
    rows = []
    ok = True
    for op in ("create", "renew"):
        bare = runs[("bare", op)]
        daemon = runs[("daemon", op)]
        p50 = median([percentile(r, 50) for r in daemon])
        p99 = median([percentile(r, 99) for r in daemon])
        bare_p50 = median([percentile(r, 50) for r in bare])
        bare_p99 = median([percentile(r, 99) for r in bare])
        target = ""
        if op == "create":
            met = p50 <= TARGET_P50
            ok = ok and met
            target = f"p50 ≤ {ms(TARGET_P50)}: {verdict(met)}"
        rows.append(
            [
                "POST /v1/sessions" if op == "create" else "PUT /v1/sessions/{id}/renew",
                f"{ms(bare_p50)} / {ms(bare_p99)}",
                f"{ms(p50)} / {ms(p99)}",
                f"+{ms(p50 - bare_p50)}",
                target,
            ]
        )
    print()
    print(
        table(["request", "bare p50 / p99", "daemon p50 / p99", "p50 above bare", "target"], rows)
    )
    print(
        f"\nmedians over the runs. One argon2id verification of the master hash "
        f"(argon2-cffi defaults) takes {ms(argon2_s)} here: a create below that does not re-hash."
    )
    return ok
