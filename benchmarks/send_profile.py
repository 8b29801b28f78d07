"""Where a send's time goes: the daemon's CPU per send, its trips to SQLite's thread, a profile.

    python -m benchmarks.send_profile [--postgres] [--one-wallet] [--seconds 8]
        [--trips] [--py-spy FILE]

One daemon (SQLite, or the test suite's throwaway PostgreSQL with
``--postgres``) on the suite's LiteSVM JSON-RPC node, eight funded wallets;
sends as ``growth sends`` makes them (one sender per wallet, or four on one).
Prints sends/s and the daemon's CPU per send (its main thread and its other
threads, from /proc). ``--trips`` runs the daemon under a wrapper that counts
each hand-off to aiosqlite's thread by the daemon function that made it;
``--py-spy FILE`` records the daemon (``pip install py-spy``) and prints the
main thread's samples split by step of the send path.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from solders.pubkey import Pubkey

from benchmarks import postgres as bench_postgres
from benchmarks._common import SOL, Admin, Server, servers, temp_dir
from benchmarks.profile_summary import frame_name
from tests.daemon.fake_rpc_node import FakeSolanaNode, ThreadedNode
from tests.support.postgres import Cluster, start_cluster

# Run as ``python -c TRIPS OUT serve ...``: the daemon, counting aiosqlite hand-offs.
TRIPS = r"""
import collections, signal, sys
import aiosqlite.core as core
counts, on = collections.Counter(), [False]
plain = core.Connection._execute
async def counted(self, fn, *args, **kwargs):
    if on[0]:
        frame, names = sys._getframe(1), []
        while frame is not None and len(names) < 3:
            if "waiaas_daemon" in frame.f_code.co_filename:
                names.append(frame.f_code.co_name)
            frame = frame.f_back
        counts[" < ".join(names)] += 1
    return await plain(self, fn, *args, **kwargs)
core.Connection._execute = counted
out = sys.argv.pop(1)
def start(*_): counts.clear(); on[0] = True
def stop(*_):
    on[0] = False
    with open(out, "w") as f:
        f.writelines(f"{n}\t{where}\n" for where, n in counts.most_common())
signal.signal(signal.SIGUSR1, start)
signal.signal(signal.SIGUSR2, stop)
sys.argv[0] = "waiaas-daemon"
from waiaas_daemon.serving.cli import main
main()
"""

# Steps of the send path, by a frame each one's samples have on their stack.
STEPS = [
    ("chain: getBalance (balance check)", "check_balance ("),
    ("chain: getLatestBlockhash + signing", "_prepare ("),
    ("chain: sendTransaction + status", "RpcChain.submit"),
    ("storage: send_inputs (policy's read)", "send_inputs"),
    ("storage: record (insert_send)", "insert_send"),
    ("storage: signature saved (swap_transaction)", "swap_transaction"),
    ("storage: settled (settle_transaction)", "settle_transaction"),
    ("policy.decide", "decide (waiaas_daemon/domain/policy.py)"),
    ("signing (sign_checked)", "sign_checked"),
    ("logging", "Logger.handle"),
    ("the send route, all of it", "send_transaction ("),
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--one-wallet", action="store_true", help="four senders on one wallet")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--trips", action="store_true")
    parser.add_argument("--py-spy", type=Path, dest="py_spy")


def main(args: argparse.Namespace) -> bool:
    cluster = start_cluster() if args.postgres else None
    node = FakeSolanaNode(confirm_after_polls=0)
    try:
        with ThreadedNode(node) as threaded, temp_dir("waiaas-send-profile-") as tmp:
            _profile(args, cluster, node, threaded, tmp)
    finally:
        if cluster is not None:
            cluster.stop()
    return True


def _profile(
    args: argparse.Namespace,
    cluster: Cluster | None,
    node: FakeSolanaNode,
    threaded: ThreadedNode,
    tmp: Path,
) -> None:
    url = cluster.create_database() if cluster is not None else None
    trips = tmp / "trips.txt"
    spawn = bench_postgres.spawn_server
    if args.trips:

        def counting(name: str, argv: list[str], env: dict[str, str] | None = None) -> Server:
            return spawn(name, [argv[0], "-c", TRIPS, str(trips), *argv[3:]], env=env)

        bench_postgres.spawn_server = counting
    try:
        with servers() as started:
            started.append(bench_postgres._daemon(tmp / "d", threaded.url, url, None))
            daemon = started[0]
            senders = _wallets(daemon, node, threaded)
            if args.one_wallet:
                senders = [senders[0]] * 4
            asyncio.run(bench_postgres._sends([daemon], senders, argparse.Namespace(seconds=1)))
            _measure(args, daemon, senders, trips)
    finally:
        bench_postgres.spawn_server = spawn


def _wallets(daemon: Server, node: FakeSolanaNode, threaded: ThreadedNode) -> list[str]:
    admin = Admin(daemon.base_url)
    wallets = [admin.wallet(f"w{i}") for i in range(8)]
    for wallet in wallets:
        key = Pubkey.from_string(wallet["address"])
        threaded.call(lambda key=key: node.fund(key, 1000 * SOL))
    tokens = [admin.session(w["id"])["token"] for w in wallets]
    admin.close()
    return tokens


def _measure(args: argparse.Namespace, daemon: Server, senders: list[str], trips: Path) -> None:
    import signal

    spy = None
    if args.py_spy is not None:
        argv = ["py-spy", "record", "--pid", str(daemon.pid), "--format", "raw"]
        argv += ["-o", str(args.py_spy), "--duration", str(int(args.seconds)), "--threads"]
        spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
    if args.trips:
        daemon.process.send_signal(signal.SIGUSR1)
    main0, other0 = daemon.cpu_seconds()
    run = asyncio.run(bench_postgres._sends([daemon], senders, args))
    main1, other1 = daemon.cpu_seconds()
    sent = run.statuses.get(201, 0)
    print(f"{sent / run.seconds:.1f} sends/s {run.statuses}")
    print(
        f"daemon CPU per send: main thread {1000 * (main1 - main0) / max(sent, 1):.1f} ms, "
        f"other threads {1000 * (other1 - other0) / max(sent, 1):.1f} ms"
    )
    if args.trips:
        daemon.process.send_signal(signal.SIGUSR2)
        time.sleep(1)
        lines = [line.split("\t") for line in trips.read_text().splitlines()]
        # Per send decided (send_inputs is read once by each): the answered ones and those
        # still in flight at either end of the run.
        sends = sum(int(n) for n, where in lines if "send_inputs" in where) or max(sent, 1)
        total = sum(int(n) for n, _ in lines)
        print(f"hand-offs to SQLite's thread per send: {total / sends:.1f}")
        for n, where in lines:
            print(f"  {int(n) / sends:5.2f}  {where}")
    if spy is not None:
        spy.wait()
        _split(args.py_spy)


def _split(path: Path) -> None:
    """The main thread's samples by step of the send path (inclusive, so steps nest)."""
    found = dict.fromkeys((label for label, _ in STEPS), 0)
    main = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or "MainThread" not in stack.split(";", 1)[0]:
            continue
        main += int(count)
        joined = ";".join(frame_name(f) for f in stack.split(";"))
        for label, key in STEPS:
            if key in joined:
                found[label] += int(count)
    print(f"py-spy, main thread: {main} samples")
    for label, n in found.items():
        print(f"  {100 * n / max(main, 1):5.1f} %  {label}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.send_profile", description=__doc__)
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
