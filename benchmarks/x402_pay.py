"""x402: a paid request's overhead over an unpaid one, on Solana and on EVM, same run.

One local-chain daemon and the tests' loopback resource server + facilitator
(tests/daemon/x402_fakes.py, which settles through the daemon's local
JSON-RPC). Each repetition alternates three cases, one request at a time:
the resource fetched directly (no daemon), ``POST /v1/x402/pay`` of a free
URL (the baseline: the same route, auth, policy read and fetch, no 402), and
``POST /v1/x402/pay`` of a URL that answers 402 (decide, record, sign, the
facilitator's verify + co-sign + submit on the local chain, the paid fetch,
settle), and the same paid request from an EVM wallet on the embedded evm-local
(an EIP-3009 authorization; the facilitator's transferWithAuthorization through the
daemon's ``/v1/local-rpc/evm-local``). The overhead is a paid p50 minus the free p50.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid

import httpx

from benchmarks._common import (
    SOL,
    Admin,
    header,
    median,
    ms,
    percentile,
    servers,
    start_daemon,
    table,
    temp_dir,
)

USDC = 10**6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--requests", type=int, default=100, help="requests per case and rep")
    parser.add_argument("--repeat", type=int, default=5)


def main(args: argparse.Namespace) -> bool:
    header("x402: paid request vs unpaid request through the daemon")
    with temp_dir("waiaas-bench-") as tmp, servers() as started:
        daemon = start_daemon(tmp / "data", {"max_sessions_per_wallet": 16})
        started.append(daemon)
        admin = Admin(daemon.base_url)
        payer = admin.wallet("payer", airdrop=SOL)
        merchant = admin.wallet("merchant", airdrop=SOL)
        for wallet, amount in ((payer, 10**6 * USDC), (merchant, 1)):
            path = f"/v1/wallets/{wallet['id']}/airdrop"
            admin.master("POST", path, 201, json={"amount": str(amount), "token": "USDC"})
        registry = admin.call("GET", "/v1/tokens", 200)["items"]
        mint = next(t["mint"] for t in registry if t["symbol"] == "USDC")
        token = admin.session(payer["id"])["token"]
        # The same daemon's EVM side: a wallet on the embedded evm-local with test USDC.
        evm_payer = admin.master("POST", "/v1/wallets", 201, json={"name": "evm", "chain": "evm"})
        path = f"/v1/wallets/{evm_payer['id']}/airdrop"
        admin.master("POST", path, 201, json={"amount": str(10**6 * USDC), "token": "USDC"})
        evm_token = admin.session(evm_payer["id"])["token"]
        base_url = daemon.base_url
        result = asyncio.run(
            _measure(admin, base_url, payer, merchant, mint, token, (evm_payer, evm_token), args)
        )
        admin.close()
    return result


async def _measure(admin, base_url, payer, merchant, mint, token, evm_side, args) -> bool:  # type: ignore[no-untyped-def]
    from eth_account import Account

    from tests.daemon.x402_evm_fakes import EvmShop, running_evm_shop
    from tests.daemon.x402_fakes import Shop, running_shop
    from waiaas_daemon.chain.evm.embedded import EVM_LOCAL_CHAIN_ID, USDC_ADDRESS
    from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode

    shop = Shop(f"{base_url}/v1/local-rpc", mint, merchant["address"], price=1)
    # The EVM facilitator settles through the daemon's evm-local JSON-RPC.
    node = JsonRpcNode([f"{base_url}/v1/local-rpc/evm-local"])
    key = Account.create()
    await node.request("waiaas_requestAirdrop", [key.address, 10**18])
    evm_shop = EvmShop(
        node, EVM_LOCAL_CHAIN_ID, USDC_ADDRESS, Account.create().address, 1, key.key.hex()
    )
    evm_payer, evm_token = evm_side
    results: dict[str, list[list[float]]] = {"direct": [], "free": [], "paid": [], "evm": []}
    statuses: dict[str, set[int]] = {name: set() for name in results}
    async with running_shop(shop), running_evm_shop(evm_shop):
        for wallet, url in ((payer, shop.url), (evm_payer, evm_shop.url)):
            host = url.removeprefix("http://")
            policy = f"/v1/wallets/{wallet['id']}/policy"
            admin.master("PUT", policy, 200, json={"x402": {"allowedHosts": [host]}})
        headers = {"Authorization": f"Bearer {token}"}
        evm_headers = {"Authorization": f"Bearer {evm_token}"}
        async with (
            httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http,
            httpx.AsyncClient(base_url=base_url, headers=evm_headers, timeout=30) as evm_http,
        ):
            for rep in range(args.repeat):
                for name in results:
                    times = []
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        if name == "evm":
                            status = await _one(evm_http, evm_shop.url, "paid")
                        else:
                            status = await _one(http, shop.url, name)
                        times.append(time.perf_counter() - started)
                        statuses[name].add(status)
                    results[name].append(times)
                    print(
                        f"  rep {rep + 1} {name:<6} p50 {ms(percentile(times, 50))} "
                        f"p99 {ms(percentile(times, 99))}",
                        flush=True,
                    )
    await node.aclose()
    return _report(results, statuses, len(shop.settled), len(evm_shop.settled), args)


async def _one(http: httpx.AsyncClient, shop_url: str, name: str) -> int:
    if name == "direct":
        return (await http.get(f"{shop_url}/free")).status_code
    path = "/free" if name == "free" else "/report"
    body = {"url": shop_url + path, "idempotencyKey": f"bench-{uuid.uuid4()}"}
    return (await http.post("/v1/x402/pay", json=body)).status_code


def _report(
    results: dict[str, list[list[float]]],
    statuses: dict[str, set[int]],
    settled: int,
    evm_settled: int,
    args: argparse.Namespace,
) -> bool:
    p50 = {name: median([percentile(t, 50) for t in runs]) for name, runs in results.items()}
    p99 = {name: median([percentile(t, 99) for t in runs]) for name, runs in results.items()}
    labels = {
        "direct": "GET the free resource directly (no daemon)",
        "free": "POST /v1/x402/pay, free resource (baseline)",
        "paid": "POST /v1/x402/pay, 402 then paid on Solana local (1 base unit of USDC)",
        "evm": "POST /v1/x402/pay, 402 then paid on evm-local (EIP-3009, 1 base unit)",
    }
    rows = [[labels[name], ms(p50[name]), ms(p99[name])] for name in results]
    print()
    print(table(["case, one request at a time", "p50", "p99"], rows))
    print(f"\noverhead of paying, p50: {ms(p50['paid'] - p50['free'])} over the unpaid request")
    print(f"overhead of paying on EVM, p50: {ms(p50['evm'] - p50['free'])}")
    expected = {"direct": {200}, "free": {200}, "paid": {201}, "evm": {201}}
    runs = args.requests * args.repeat
    ok = statuses == expected and settled == runs and evm_settled == runs
    print(
        f"check: every answer as expected, {settled} Solana and {evm_settled} EVM "
        f"settlements: {'ok' if ok else 'FAILED'}"
    )
    return ok


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.x402_pay")
    add_arguments(parser)
    sys.exit(0 if main(parser.parse_args()) else 1)
