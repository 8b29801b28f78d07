"""Send latency with a webhook receiver that never answers versus no channel, same run.

Two daemons on the local chain: one whose `[notifications] webhook_url` points
at a socket that accepts and never answers, one with no channel. Each wallet's
policy puts every send in the NOTIFY tier, so every send writes a notification
the hanging daemon's worker keeps trying to deliver. Notifications are never in
the path of the request that caused them: p99 must not grow.

    python -m benchmarks.notify_hang [--seconds 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks._common import (
    PASSWORD,
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
    verdict,
)

AMOUNT = 1_000_000
# p99 with the hanging receiver may exceed the baseline's by this much (noise).
TARGET_RATIO = 1.5


@contextlib.contextmanager
def hanging_receiver() -> Iterator[str]:
    """A loopback socket that accepts connections and never answers them."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


def start(data_dir: Path, webhook: str | None) -> Server:
    data_dir.mkdir(parents=True, mode=0o700)
    lines = ["[notifications]", f'webhook_url = "{webhook}"'] if webhook else []
    (data_dir / "config.toml").write_text("\n".join(lines) + "\n")
    server = spawn_server(
        "waiaas-daemon",
        [
            sys.executable,
            "-m",
            "waiaas_daemon",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
        ],
        env={"WAIAAS_MASTER_PASSWORD": PASSWORD},
    )
    server.data_dir = data_dir
    return server


def prepare(server: Server) -> tuple[str, str]:
    admin = Admin(server.base_url)
    recipient = admin.wallet("recipient", airdrop=SOL)["address"]
    wallet = admin.wallet("sender", airdrop=1000 * SOL)
    policy = {"instantMax": "1", "notifyMax": str(100 * SOL)}
    admin.master("PUT", f"/v1/wallets/{wallet['id']}/policy", 200, json=policy)
    token = admin.session(wallet["id"])["token"]
    admin.close()
    return token, recipient


async def sends(server: Server, token: str, to: str, seconds: float) -> Run:
    host, port = server.host_port
    body = {"to": to, "amount": str(AMOUNT)}

    async def request(conn: Any) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token}"}
        return await conn.request("POST", "/v1/transactions/send", headers, body)

    return await closed_loop(
        lambda: RawConnection(host, port), request, concurrency=1, seconds=seconds
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=3, help="measured seconds per run")
    parser.add_argument("--repeat", type=int, default=3)


def main(args: argparse.Namespace) -> bool:
    header("send p99: a webhook that never answers versus no channel")
    with temp_dir("waiaas-bench-") as tmp, hanging_receiver() as url, servers() as started:
        cases = {
            "no channel": start(tmp / "plain", None),
            "hanging webhook": start(tmp / "hang", url),
        }
        started.extend(cases.values())
        prepared = {name: prepare(server) for name, server in cases.items()}
        results: dict[str, list[Run]] = {name: [] for name in cases}
        for rep in range(args.repeat):
            for name, server in cases.items():
                token, to = prepared[name]
                run = asyncio.run(sends(server, token, to, args.seconds))
                results[name].append(run)
                print(
                    f"  rep {rep + 1} {name:<16} p50 {ms(run.pct(50))} p99 {ms(run.pct(99))} "
                    f"n {len(run.latencies)} statuses {run.statuses}",
                    flush=True,
                )
    p99 = {name: median([r.pct(99) for r in runs]) for name, runs in results.items()}
    rows = [
        [name, ms(median([r.pct(50) for r in runs])), ms(p99[name])]
        for name, runs in results.items()
    ]
    print()
    print(table(["case", "p50", "p99"], rows))
    all_201 = all(set(r.statuses) == {201} for runs in results.values() for r in runs)
    ratio = p99["hanging webhook"] / p99["no channel"]
    ok = all_201 and ratio <= TARGET_RATIO
    print(f"\np99 ratio hanging / none: {ratio:.2f} (target <= {TARGET_RATIO}): {verdict(ok)}")
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notify_hang")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
