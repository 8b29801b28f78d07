"""x402 on EVM with a real `waiaas-daemon serve` killed mid-payment (issue #25, items 1, 5):
the facilitator settles on the daemon's embedded EVM through ``/v1/local-rpc/evm-local``.
An authorization that landed is CONFIRMED after the restart; one that had not can still
land (its validBefore has not passed), so the record waits for the chain and the key
never pays a second time, then is CONFIRMED once the late settlement lands."""

from __future__ import annotations

import contextlib
import signal
from typing import Any

import anyio
import httpx
import pytest
from eth_account import Account

from tests.daemon.x402_evm_fakes import EvmShop, running_evm_shop
from tests.support import evm
from tests.support.daemon import FAST_SECURITY, start_daemon
from waiaas_daemon.chain.evm.embedded import EVM_LOCAL_CHAIN_ID, USDC_ADDRESS
from waiaas_daemon.chain.evm.jsonrpc import JsonRpcNode

pytestmark = [pytest.mark.anyio]

USDC = 10**6
PRICE = 250_000


def _evm_wallet(daemon: Any) -> dict[str, Any]:
    made = daemon.api("POST", "/v1/wallets", json={"name": "evm", "chain": "evm"})
    assert made.status_code == 201, made.text
    wallet = made.json()
    body = {"amount": str(5 * USDC), "token": "USDC"}
    dropped = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=body)
    assert dropped.status_code == 201, dropped.text
    return dict(wallet)


@pytest.mark.parametrize("settles", [True, False])
async def test_a_sigkill_while_the_resource_holds_an_evm_payment_never_pays_twice(
    tmp_path, settles: bool
):
    data = tmp_path / "data"
    daemon = start_daemon(data, config={"security": FAST_SECURITY})
    node = JsonRpcNode([f"{daemon.base_url}/v1/local-rpc/evm-local"])
    try:
        wallet = _evm_wallet(daemon)
        token = daemon.create_session(wallet["id"])["token"]
        key = Account.create()
        await node.request("waiaas_requestAirdrop", [key.address, 10**18])
        merchant = Account.create().address
        shop = EvmShop(node, EVM_LOCAL_CHAIN_ID, USDC_ADDRESS, merchant, PRICE, key.key.hex())
        shop.behaviour = "hang" if settles else "hang-before-settling"
        async with running_evm_shop(shop):
            host = shop.url.removeprefix("http://")
            policy = {"x402": {"allowedHosts": [host]}}
            put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy)
            assert put.status_code == 200, put.text
            agent = httpx.AsyncClient(
                base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            body = {"url": shop.url + "/report", "idempotencyKey": "evm-crash-key"}

            async def pay() -> None:
                with contextlib.suppress(httpx.HTTPError):  # the daemon dies under it
                    await agent.post("/v1/x402/pay", json=body)

            async with anyio.create_task_group() as group:
                group.start_soon(pay)
                with anyio.fail_after(30):
                    await shop.holding.wait()
                daemon.process.send_signal(signal.SIGKILL)
            daemon.process.wait(15)
            daemon.close()
            daemon = start_daemon(data, config={"security": FAST_SECURITY})
            agent.base_url = httpx.URL(daemon.base_url)
            await node.aclose()
            node = shop.node = JsonRpcNode([f"{daemon.base_url}/v1/local-rpc/evm-local"])
            again = await agent.post("/v1/x402/pay", json=body)
            assert again.status_code == 200, again.text
            assert again.json()["outcome"] == "RECORDED"
            if settles:
                assert again.json()["payment"]["status"] == "CONFIRMED"
                assert again.json()["payment"]["settlement"] == shop.settled[0]
            else:
                # Not landed, and it still can: the record waits, it is not paid anew.
                assert again.json()["payment"]["status"] == "SUBMITTED"
                shop.release.set()
                with anyio.fail_after(30):
                    while not shop.settled:
                        await anyio.sleep(0.05)
                late = await agent.post("/v1/x402/pay", json=body)
                assert late.json()["payment"]["status"] == "CONFIRMED"
                assert late.json()["payment"]["settlement"] == shop.settled[0]
            assert len(shop.settled) == 1
            assert await evm.token_balance(node, USDC_ADDRESS, merchant) == PRICE
            assert await evm.token_balance(node, USDC_ADDRESS, wallet["address"]) == (
                5 * USDC - PRICE
            )
            await agent.aclose()
    finally:
        await node.aclose()
        daemon.kill()
        daemon.close()
