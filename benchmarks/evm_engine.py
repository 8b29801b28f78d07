"""Which engine for the embedded evm-local chain: py-evm or pyrevm (Rust revm bindings).

``python -m benchmarks.evm_engine [--txs 200] [--repeat 3]``

Each measurement runs in a fresh subprocess (``--worker NAME``), so import time
and memory are a cold process's:

- ``bare``: Python with eth-account imported (the baseline: the daemon needs
  eth-account to sign EVM transactions whichever engine runs evm-local);
- ``pyevm-import`` / ``pyrevm-import``: the same plus the engine's import;
- ``pyevm``: the real ``EmbeddedNode`` on SQLite: open (genesis + the test USDC),
  then ``--txs`` ETH transfers and ``--txs`` USDC transfers, each signed with
  eth-account beforehand, sent with ``eth_sendRawTransaction``, mined and written
  to the database; RSS after the first transaction and at the end; the rows and
  bytes each transaction wrote; the time to reopen from the database;
- ``pyevm-engine``: the same transactions on the engine alone (no database);
- ``pyrevm``: the same transfers on pyrevm's EVM: the sender recovered from the
  raw transaction with eth-account (what any node must do), then a message
  call, its changes kept in pyrevm's journal (0.3.7's ``commit()`` underflows
  the journal depth). pyrevm has no transaction validation, nonces, blocks,
  receipts, logs index or persistence: those would be ours to write; this
  measures only what it does.

Medians over ``--repeat`` runs; the ratio column is against py-evm's engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GWEI = 10**9


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def _signed(
    chain_id: int, key: str, count: int, usdc: str, start_nonce: int
) -> tuple[list[bytes], list[bytes]]:
    """``count`` ETH transfers then ``count`` USDC transfers from ``key``, signed."""
    from eth_abi import encode
    from eth_account import Account
    from eth_utils import keccak

    payee = Account.create().address
    transfer = keccak(text="transfer(address,uint256)")[:4] + encode(
        ["address", "uint256"], [payee, 1]
    )
    eth, tokens = [], []
    for i in range(count * 2):
        to, value, data, gas = (payee, 1, b"", 21_000) if i < count else (usdc, 0, transfer, 80_000)
        tx = {
            "type": 2,
            "chainId": chain_id,
            "nonce": start_nonce + i,
            "to": to,
            "value": value,
            "data": data,
            "gas": gas,
            "maxFeePerGas": 100 * GWEI,
            "maxPriorityFeePerGas": GWEI,
        }
        raw = bytes(Account.sign_transaction(tx, key).raw_transaction)
        (eth if i < count else tokens).append(raw)
    return eth, tokens


def worker_import(engine: str) -> dict[str, Any]:
    import eth_account  # noqa: F401 - the baseline loads it too

    before = _rss_mib()
    started = time.perf_counter()
    if engine == "pyevm":
        from waiaas_daemon.chain.evm import _engine  # noqa: F401 - py-evm and its chain
    elif engine == "pyrevm":
        import pyrevm  # noqa: F401
    return {
        "import_s": time.perf_counter() - started,
        "rss_mib": _rss_mib(),
        "delta_mib": _rss_mib() - before,
    }


async def _pyevm_node(count: int) -> dict[str, Any]:
    from eth_account import Account

    from waiaas_daemon.chain.evm.embedded import EmbeddedNode
    from waiaas_daemon.storage import SqliteStorage

    with tempfile.TemporaryDirectory() as tmp:
        written = {"rows": 0, "bytes": 0}
        async with SqliteStorage.open(Path(tmp) / "w.db") as db:
            save = db.save_evm_local

            async def counting(changes: Any) -> None:
                written["rows"] += len(changes)
                written["bytes"] += sum(len(k) + len(v or b"") for k, v in changes)
                await save(changes)

            db.save_evm_local = counting  # type: ignore[method-assign]
            node = EmbeddedNode(db)
            started = time.perf_counter()
            await node.request("eth_blockNumber", [])
            open_s = time.perf_counter() - started
            rss_open = _rss_mib()
            sender = Account.create()
            await node.airdrop(sender.address, 10**21)
            await node.mint_usdc(sender.address, 10**12)
            eth, tokens = _signed(node.chain_id, sender.key.hex(), count, node.usdc_address, 0)
            written.update(rows=0, bytes=0)
            await node.request("eth_sendRawTransaction", ["0x" + eth[0].hex()])
            rss_first = _rss_mib()
            started = time.perf_counter()
            for raw in eth[1:]:
                await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
            eth_s = time.perf_counter() - started
            started = time.perf_counter()
            for raw in tokens:
                await node.request("eth_sendRawTransaction", ["0x" + raw.hex()])
            usdc_s = time.perf_counter() - started
            rss_end = _rss_mib()
            head = await node.request("eth_blockNumber", [])
            await node.aclose()
            node = EmbeddedNode(db)
            started = time.perf_counter()
            assert await node.request("eth_blockNumber", []) == head
            reopen_s = time.perf_counter() - started
            await node.aclose()
        txs = 2 * count
    return {
        "open_s": open_s,
        "rss_open_mib": rss_open,
        "rss_first_tx_mib": rss_first,
        "rss_end_mib": rss_end,
        "eth_tx_per_s": (count - 1) / eth_s,
        "usdc_tx_per_s": count / usdc_s,
        "rows_per_tx": written["rows"] / txs,
        "bytes_per_tx": written["bytes"] / txs,
        "reopen_s": reopen_s,
        "blocks": int(head, 16),
    }


def worker_pyevm_engine(count: int) -> dict[str, Any]:
    from eth_account import Account

    from waiaas_daemon.chain.evm._engine import Engine
    from waiaas_daemon.chain.evm.embedded import EVM_LOCAL_CHAIN_ID, FAUCET_KEY, USDC_ADDRESS

    engine = Engine([], chain_id=EVM_LOCAL_CHAIN_ID, clock=time.time, faucet_key=FAUCET_KEY)
    sender = Account.create()
    engine.airdrop(sender.address, 10**21)
    engine.mint_usdc(sender.address, 10**12)
    eth, tokens = _signed(EVM_LOCAL_CHAIN_ID, sender.key.hex(), count, USDC_ADDRESS, 0)
    started = time.perf_counter()
    for raw in eth:
        engine.rpc_eth_sendRawTransaction("0x" + raw.hex())
    eth_s = time.perf_counter() - started
    started = time.perf_counter()
    for raw in tokens:
        engine.rpc_eth_sendRawTransaction("0x" + raw.hex())
    usdc_s = time.perf_counter() - started
    return {
        "eth_tx_per_s": count / eth_s,
        "usdc_tx_per_s": count / usdc_s,
        "rss_end_mib": _rss_mib(),
    }


def worker_pyrevm(count: int) -> dict[str, Any]:
    import pyrevm
    from eth_abi import encode
    from eth_account import Account
    from eth_utils import to_checksum_address

    from waiaas_daemon.chain.evm import contracts

    rss_import = _rss_mib()
    evm = pyrevm.EVM()
    minter = Account.create()
    sender = Account.create()
    evm.set_balance(minter.address, 10**21)
    evm.set_balance(sender.address, 10**21)
    code = contracts.creation_code("TestUSDC") + encode(["address"], [minter.address])
    usdc = to_checksum_address(evm.deploy(minter.address, code))
    evm.message_call(
        minter.address, usdc, contracts_call("mint(address,uint256)", sender.address, 10**12)
    )
    eth, tokens = _signed(1, sender.key.hex(), count, usdc, 0)

    def run(raw: bytes) -> None:
        from eth_account import Account as A

        tx = A.recover_transaction(raw)  # the sender, as a node recovers it
        decoded = _decode_typed(raw)
        # pyrevm keeps a call's changes in its journal (its commit() underflows the
        # journal depth in 0.3.7, and a call does not bump the sender's nonce).
        evm.message_call(
            tx, decoded["to"], decoded["data"], value=decoded["value"], gas=decoded["gas"]
        )

    run(eth[0])
    rss_first = _rss_mib()
    started = time.perf_counter()
    for raw in eth:
        run(raw)
    eth_s = time.perf_counter() - started
    started = time.perf_counter()
    for raw in tokens:
        run(raw)
    usdc_s = time.perf_counter() - started
    return {
        "eth_tx_per_s": count / eth_s,
        "usdc_tx_per_s": count / usdc_s,
        "rss_import_mib": rss_import,
        "rss_first_tx_mib": rss_first,
        "rss_end_mib": _rss_mib(),
    }


def contracts_call(signature: str, *args: Any) -> bytes:
    from eth_abi import encode
    from eth_utils import keccak

    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return keccak(text=signature)[:4] + encode(types, list(args))


def _decode_typed(raw: bytes) -> dict[str, Any]:
    """The fields of an EIP-1559 transaction (type 2) that a message call needs."""
    import rlp
    from eth_utils import to_checksum_address

    fields = rlp.decode(raw[1:])
    return {
        "gas": int.from_bytes(fields[4], "big"),
        "to": to_checksum_address(fields[5]),
        "value": int.from_bytes(fields[6], "big"),
        "data": bytes(fields[7]),
    }


def _in_subprocess(worker: str, count: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.evm_engine", "--worker", worker, "--txs", str(count)],
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(args: argparse.Namespace) -> bool:
    repeat, count = args.repeat, args.txs
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(repeat):
        for worker in ("bare", "pyevm-import", "pyrevm-import", "pyevm-engine", "pyrevm", "pyevm"):
            n = count * 10 if worker == "pyrevm" else count
            results.setdefault(worker, []).append(_in_subprocess(worker, n))
    bare = results["bare"]
    print(f"medians of {repeat} runs; {count} ETH + {count} USDC transfers (pyrevm: 10x)")
    print("\n| import (cold process, eth-account already loaded) | time | RSS | added |")
    print("|---|---|---|---|")
    for name in ("bare", "pyevm-import", "pyrevm-import"):
        runs = results[name]
        print(
            f"| {name} | {_median(runs, 'import_s') * 1000:.0f} ms | "
            f"{_median(runs, 'rss_mib'):.1f} MiB | "
            f"{_median(runs, 'rss_mib') - _median(bare, 'rss_mib'):+.1f} MiB |"
        )
    base_eth = _median(results["pyevm-engine"], "eth_tx_per_s")
    base_usdc = _median(results["pyevm-engine"], "usdc_tx_per_s")
    print("\n| throughput | ETH tx/s | ratio | USDC tx/s | ratio |")
    print("|---|---|---|---|---|")
    for name in ("pyevm-engine", "pyevm", "pyrevm"):
        eth = _median(results[name], "eth_tx_per_s")
        usdc = _median(results[name], "usdc_tx_per_s")
        print(
            f"| {name} | {eth:.1f} | {eth / base_eth:.2f} | {usdc:.1f} | {usdc / base_usdc:.2f} |"
        )
    node = results["pyevm"]
    print("\n| EmbeddedNode (py-evm) on SQLite | median |")
    print("|---|---|")
    for key, unit in (
        ("open_s", "s"),
        ("rss_open_mib", "MiB"),
        ("rss_first_tx_mib", "MiB"),
        ("rss_end_mib", "MiB"),
        ("rows_per_tx", "rows"),
        ("bytes_per_tx", "B"),
        ("reopen_s", "s"),
    ):
        print(f"| {key} | {_median(node, key):.3f} {unit} |")
    pyrevm = results["pyrevm"]
    print(
        f"\npyrevm RSS: {_median(pyrevm, 'rss_import_mib'):.1f} MiB after import, "
        f"{_median(pyrevm, 'rss_first_tx_mib'):.1f} after one tx, "
        f"{_median(pyrevm, 'rss_end_mib'):.1f} at the end"
    )
    return True


def _worker(name: str, count: int) -> dict[str, Any]:
    if name == "bare":
        return worker_import("none")
    if name.endswith("-import"):
        return worker_import(name.removesuffix("-import"))
    if name == "pyevm-engine":
        return worker_pyevm_engine(count)
    if name == "pyrevm":
        return worker_pyrevm(count)
    if name == "pyevm":
        import anyio

        return anyio.run(_pyevm_node, count)
    raise SystemExit(f"unknown worker {name}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--txs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.txs)))
    else:
        sys.exit(0 if main(args) else 1)
