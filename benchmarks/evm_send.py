"""EVM sends beside Solana's: ``POST /v1/transactions/send`` p50 on the embedded EVM
(evm-local), on anvil over JSON-RPC, and on the Solana local chain, one daemon, one run.

One sender at a time (a closed loop of one): the latency of a send as an agent sees it,
from the request to the 201 with the transaction confirmed. The baseline is the Solana
local chain in the same daemon and the same run. anvil poses as Sepolia (its chain id),
so the daemon's own network table and chain id check are what runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from benchmarks._common import PASSWORD as BENCH_PASSWORD
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
    spawn_server,
    table,
    temp_dir,
)

ETH = 10**18
EVM_AMOUNT = 10**12
SOL_AMOUNT = 1_000_000
SEPOLIA = 11155111
EVM_RECIPIENT = "0x000000000000000000000000000000000000dEaD"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=5, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)


def main(args: argparse.Namespace) -> bool:
    from tests.support.anvil import start_anvil

    header("send p50: evm-local and anvil beside the Solana local chain")
    anvil = start_anvil(chain_id=SEPOLIA)
    try:
        with temp_dir("waiaas-bench-evm-") as tmp, servers() as started:
            daemon = _start(tmp / "data", anvil.url)
            started.append(daemon)
            tokens = _setup(daemon, anvil)
            results: dict[str, list[Run]] = {name: [] for name in tokens}
            for rep in range(args.repeat):
                for name, (token, to, amount) in tokens.items():
                    run = asyncio.run(_sends(daemon, token, to, amount, args.seconds))
                    results[name].append(run)
                    print(
                        f"  rep {rep + 1} {name:<28} p50 {ms(run.pct(50))} p99 {ms(run.pct(99))}"
                        f"  {run.statuses.get(201, 0) / run.seconds:6.1f} sends/s"
                        f"  statuses {run.statuses}",
                        flush=True,
                    )
    finally:
        anvil.stop()
        if anvil.process.stdout is not None:
            anvil.process.stdout.close()
    return _report(results)


def _start(data_dir: Any, anvil_url: str) -> Server:
    import sys

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    (data_dir / "config.toml").write_text(
        f'[evm]\nnetwork = "evm-local"\n[evm.rpc_urls]\nsepolia = ["{anvil_url}"]\n'
    )
    module = os.environ.get("WAIAAS_BENCH_DAEMON_MODULE", "waiaas_daemon")
    server = spawn_server(
        "waiaas-daemon",
        [sys.executable, "-m", module, "serve", "--data-dir", str(data_dir), "--port", "0"],
        env={"WAIAAS_MASTER_PASSWORD": BENCH_PASSWORD},
    )
    server.data_dir = data_dir
    return server


def _setup(daemon: Server, anvil: Any) -> dict[str, tuple[str, str, int]]:
    admin = Admin(daemon.base_url)
    admin.http.timeout = 120  # the first EVM wallet loads the eth libraries
    try:
        solana = admin.wallet("solana", airdrop=100 * SOL)
        recipient = admin.wallet("recipient")["address"]
        local = admin.master("POST", "/v1/wallets", 201, json={"name": "evm", "chain": "evm"})
        admin.master(
            "POST", f"/v1/wallets/{local['id']}/airdrop", 201, json={"amount": str(10 * ETH)}
        )
        remote = admin.master(
            "POST",
            "/v1/wallets",
            201,
            json={"name": "anvil", "chain": "evm", "network": "sepolia"},
        )
        anvil.set_balance(remote["address"], 100 * ETH)
        return {
            "Solana local (LiteSVM)": (
                admin.session(solana["id"])["token"],
                recipient,
                SOL_AMOUNT,
            ),
            "evm-local (embedded py-evm)": (
                admin.session(local["id"])["token"],
                EVM_RECIPIENT,
                EVM_AMOUNT,
            ),
            "anvil over JSON-RPC": (
                admin.session(remote["id"])["token"],
                EVM_RECIPIENT,
                EVM_AMOUNT,
            ),
        }
    finally:
        admin.close()


async def _sends(daemon: Server, token: str, to: str, amount: int, seconds: float) -> Run:
    host, port = daemon.host_port
    body = {"to": to, "amount": str(amount)}

    def connect() -> Any:
        return RawConnection(host, port)

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(connect, request, concurrency=1, seconds=seconds)


def _report(results: dict[str, list[Run]]) -> bool:
    baseline_name = next(iter(results))
    baseline = median([r.pct(50) for r in results[baseline_name]])
    rows = []
    ok = True
    for name, runs in results.items():
        ok = ok and all(set(r.statuses) == {201} and not r.errors for r in runs)
        p50 = median([r.pct(50) for r in runs])
        rows.append(
            [
                name,
                ms(p50),
                ms(median([r.pct(99) for r in runs])),
                f"{p50 / baseline:.2f}",
                f"{median([r.statuses.get(201, 0) / r.seconds for r in runs]):.1f}",
            ]
        )
    print()
    print(table(["chain", "send p50", "p99", "x Solana local", "sends/s"], rows))
    print(
        "\nmedians over the runs, one sender at a time; every send must answer 201 "
        "(CONFIRMED: the embedded chains and anvil mine at once). No target is set."
    )
    return ok
