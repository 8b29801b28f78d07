"""Helpers of the policy, pending and controls tests (in-process harness)."""

from __future__ import annotations

from typing import Any

from solders.keypair import Keypair

from tests.daemon.conftest import MASTER

SOL = 1_000_000_000
FEE = 5000


def address() -> str:
    return str(Keypair().pubkey())


async def funded(harness, name="main", lamports=10 * SOL, **session_body):
    """A wallet with lamports, and the headers of a session on it."""
    wallet = await harness.wallet(name)
    response = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(lamports)}, headers=MASTER
    )
    assert response.status_code == 201, response.text
    session = await harness.session(wallet["id"], **session_body)
    return wallet, {"Authorization": f"Bearer {session['token']}"}, session


async def recipient(harness, name="bob"):
    """A funded recipient, so small sends are not refused for rent."""
    wallet, _, _ = await funded(harness, name, lamports=SOL)
    return wallet["address"]


async def set_policy(harness, wallet_id: str, **policy: Any) -> dict[str, Any]:
    response = await harness.http.put(
        f"/v1/wallets/{wallet_id}/policy", json=policy, headers=MASTER
    )
    assert response.status_code == 200, response.text
    return response.json()


async def send(harness, headers, to, amount, **extra):
    return await harness.http.post(
        "/v1/transactions/send", json={"to": to, "amount": str(amount), **extra}, headers=headers
    )


async def balance(harness, headers) -> int:
    response = await harness.http.get("/v1/wallet/balance", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def transaction(harness, headers, tx_id):
    response = await harness.http.get(f"/v1/transactions/{tx_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()
