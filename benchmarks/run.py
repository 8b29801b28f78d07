"""Run the waiaas benchmarks: ``python -m benchmarks.run NAME`` (auth … x402, or all).

Each prints its medians, p50/p99, ratios against its baseline measured in the
same run, and whether the target of docs/benchmarks.md is met; the exit status
is 1 when a target is missed. The 60 s load test is ``python -m benchmarks.load_test``.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import (
    auth_get,
    cold_start,
    evm_send,
    growth,
    mcp_roundtrip,
    memory,
    postgres,
    rpc_client,
    send,
    send_profile,
    sessions,
    usd_send,
    x402_pay,
)

BENCHMARKS = {
    "auth": auth_get,
    "sessions": sessions,
    "mcp": mcp_roundtrip,
    "coldstart": cold_start,
    "send": send,
    "evmsend": evm_send,
    "postgres": postgres,
    "x402": x402_pay,
    "usd": usd_send,
    "growth": growth,
    "memory": memory,
    "rpcclient": rpc_client,
    "sendprofile": send_profile,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, module in BENCHMARKS.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    sub.add_parser("all", help="every benchmark with its default settings")
    args = parser.parse_args(argv)
    if args.benchmark == "all":
        results = {}
        for name, module in BENCHMARKS.items():
            module_parser = argparse.ArgumentParser()
            module.add_arguments(module_parser)
            results[name] = module.main(module_parser.parse_args([]))
        print("\n## Summary\n")
        for name, ok in results.items():
            print(f"- {name}: {'all targets and checks met' if ok else 'a target or check MISSED'}")
        return 0 if all(results.values()) else 1
    return 0 if BENCHMARKS[args.benchmark].main(args) else 1


if __name__ == "__main__":
    sys.exit(main())
