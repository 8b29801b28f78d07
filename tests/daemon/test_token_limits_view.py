"""Token sends: the agent sees what each token's limits leave, and the audit log names the
mint of every token send's entry (issue #21). In-process, on the local chain's test USDC."""

import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.policy_support import SOL, address, funded, recipient, send, set_policy
from waiaas_daemon.domain.scheduler import Scheduler

pytestmark = pytest.mark.anyio

USDC = 10**6


async def _never(seconds: float) -> None:
    raise AssertionError("the scheduler is driven by hand here")


async def _usdc(harness, wallet_id, amount):
    response = await harness.http.post(
        f"/v1/wallets/{wallet_id}/airdrop",
        json={"amount": str(amount), "token": "USDC"},
        headers=MASTER,
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]["mint"]


async def _view(harness, headers):
    response = await harness.http.get("/v1/wallet/policy", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["remaining"]


async def test_remaining_reports_each_token_with_limits_in_policy_or_constraints(harness):
    other, tiers_only = address(), address()
    wallet = await harness.wallet("main")
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(SOL)}, headers=MASTER
    )
    mint = await _usdc(harness, wallet["id"], 100 * USDC)
    session = await harness.session(
        wallet["id"],
        constraints={
            "tokens": {
                mint: {"maxAmountPerDay": str(60 * USDC)},
                other: {"maxAmountPerDay": "7", "maxAmountPerTx": "5"},
            }
        },
        expiresIn=172800,
    )
    headers = {"Authorization": f"Bearer {session['token']}"}
    bob = await recipient(harness)
    assert (await _view(harness, headers))["tokens"] == {
        mint: {"daily": str(60 * USDC), "monthly": None},
        other: {"daily": "7", "monthly": None},
    }
    await set_policy(
        harness,
        wallet["id"],
        dailyLimit=str(SOL),
        tokens={
            mint: {"dailyLimit": str(100 * USDC), "monthlyLimit": str(500 * USDC)},
            tiers_only: {"instantMax": "1"},
        },
    )
    assert (await send(harness, headers, bob, 25 * USDC, token="USDC")).status_code == 201
    remaining = await _view(harness, headers)
    assert remaining == {
        "daily": str(SOL),  # SOL limits never count a token send
        "monthly": None,
        "sendsThisHour": None,
        "tokens": {
            # the session's 60 is tighter than the policy's 100 for the day
            mint: {"daily": str(35 * USDC), "monthly": str(475 * USDC)},
            other: {"daily": "7", "monthly": None},
        },
    }
    harness.clock.advance(86400 + 1)
    assert (await _view(harness, headers))["tokens"][mint] == {
        "daily": str(60 * USDC),
        "monthly": str(475 * USDC),
    }


async def test_without_token_limits_remaining_tokens_is_empty(harness):
    _, headers, _ = await funded(harness)
    assert (await _view(harness, headers))["tokens"] == {}


async def _entries(harness, wallet_id):
    response = await harness.http.get(
        "/v1/audit", params={"walletId": wallet_id, "limit": "100"}, headers=MASTER
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_every_audit_entry_of_a_token_send_names_its_mint(harness):
    wallet, headers, _ = await funded(harness, expiresIn=86400)
    mint = await _usdc(harness, wallet["id"], 100 * USDC)
    bob = await recipient(harness)
    await set_policy(
        harness,
        wallet["id"],
        allowedRecipients=[bob],
        autoSuspendAfterDenials=0,
        tokens={mint: {"instantMax": str(10 * USDC), "delayMax": str(70 * USDC)}},
        delaySeconds=60,
    )
    # allowed and confirmed; denied; queued twice (the second fails at execution for
    # want of tokens); pending and rejected; pending and cancelled by the agent.
    assert (await send(harness, headers, bob, USDC, token="USDC")).status_code == 201
    denied = await send(harness, headers, address(), USDC, token="USDC")
    assert denied.json()["code"] == "POLICY_DENIED"
    first = await send(harness, headers, bob, 60 * USDC, token="USDC")
    second = await send(harness, headers, bob, 60 * USDC, token="USDC")
    assert (first.json()["status"], second.json()["status"]) == ("QUEUED", "QUEUED")
    pending = await send(harness, headers, bob, 80 * USDC, token=mint)
    withdrawn = await send(harness, headers, bob, 90 * USDC, token=mint)
    assert pending.json()["status"] == withdrawn.json()["status"] == "PENDING_APPROVAL"
    rejected = await harness.http.post(
        f"/v1/pending/{pending.json()['id']}/reject", json={"reason": "no"}, headers=MASTER
    )
    assert rejected.status_code == 200, rejected.text
    cancel = await harness.http.post(
        f"/v1/transactions/{withdrawn.json()['id']}/cancel", headers=headers
    )
    assert cancel.status_code == 200, cancel.text
    harness.clock.advance(60)
    assert await Scheduler(harness.state, sleep=_never).run_due() == 2
    # A SOL send's entries carry no mint.
    assert (await send(harness, headers, bob, SOL // 10)).status_code == 201

    entries = await _entries(harness, wallet["id"])
    sends = [e for e in entries if e["action"].startswith(("send.", "pending."))]
    actions = {e["action"] for e in sends}
    for expected in (
        "send.allowed",
        "send.denied",
        "send.queued",
        "send.pending",
        "send.submitted",
        "send.confirmed",
        "send.failed",
        "pending.reject",
        "send.cancelled",
    ):
        assert expected in actions, (expected, actions)
    sol_tx = (await harness.http.get("/v1/transactions", headers=headers)).json()["items"][0]
    assert sol_tx["token"] is None
    for entry in sends:
        if entry["transactionId"] == sol_tx["id"]:
            assert "mint" not in entry["details"], entry
        else:
            assert entry["details"].get("mint") == mint, entry
