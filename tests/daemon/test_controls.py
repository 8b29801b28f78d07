"""Kill switch, suspension and automatic suspension, in-process on a fake clock."""

import anyio
import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.policy_support import SOL, address, balance, funded, recipient, send, set_policy
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import controls
from waiaas_daemon.domain.scheduler import Scheduler

pytestmark = pytest.mark.anyio


async def _never(seconds: float) -> None:
    await anyio.sleep_forever()


async def _kill(harness, reason="incident"):
    response = await harness.http.post(
        "/v1/admin/kill-switch", json={"reason": reason}, headers=MASTER
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_kill_switch_state_reason_and_time_show_in_admin_status(harness):
    status = (await harness.http.get("/v1/admin/status", headers=MASTER)).json()
    assert status["killSwitch"] == {"active": False, "reason": None, "since": None}
    assert await _kill(harness) == {"active": True, "reason": "incident", "since": 1_800_000_000}
    status = (await harness.http.get("/v1/admin/status", headers=MASTER)).json()
    assert status["killSwitch"] == {"active": True, "reason": "incident", "since": 1_800_000_000}
    harness.clock.advance(5)
    off = await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    assert off.json() == {"active": False, "reason": None, "since": 1_800_000_005}


async def test_kill_switch_refuses_sends_but_reads_and_renewals_work(harness):
    _, headers, session = await funded(harness)
    bob = await recipient(harness)
    await _kill(harness)
    refused = await send(harness, headers, bob, SOL)
    assert (refused.status_code, refused.json()["code"]) == (403, "KILL_SWITCH_ACTIVE")
    assert (await harness.http.get("/v1/wallet/balance", headers=headers)).status_code == 200
    assert (await harness.http.get("/v1/transactions", headers=headers)).status_code == 200
    harness.clock.advance(1800)
    assert (await harness.renew(session)).status_code == 200
    with pytest.raises(WaiaasError) as caught:
        await controls.refuse_if_kill_switch(harness.state)
    assert caught.value.code == "KILL_SWITCH_ACTIVE"
    await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    await controls.refuse_if_kill_switch(harness.state)
    assert (await send(harness, headers, bob, SOL)).status_code == 201


async def test_queued_sends_wait_while_the_kill_switch_is_on_and_run_after(harness):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], instantMax="1", delayMax=str(SOL), delaySeconds=60)
    tx_id = (await send(harness, headers, bob, SOL)).json()["id"]
    await _kill(harness)
    harness.clock.advance(60)
    runner = Scheduler(harness.state, sleep=_never)
    assert await runner.run_due() == 0
    assert (await harness.state.db.get_transaction(tx_id)).status == "QUEUED"
    await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    assert await runner.run_due() == 1
    assert (await harness.state.db.get_transaction(tx_id)).status == "CONFIRMED"


async def test_approval_while_held_is_refused_and_the_send_keeps_waiting(harness):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], instantMax="1")
    tx_id = (await send(harness, headers, bob, SOL)).json()["id"]
    await _kill(harness)
    held = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert (held.status_code, held.json()["code"]) == (403, "KILL_SWITCH_ACTIVE")
    await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    await harness.http.post(f"/v1/wallets/{wallet['id']}/suspend", headers=MASTER)
    held = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert (held.status_code, held.json()["code"]) == (403, "WALLET_SUSPENDED")
    assert (await harness.state.db.get_transaction(tx_id)).status == "PENDING_APPROVAL"
    await harness.http.post(f"/v1/wallets/{wallet['id']}/resume", headers=MASTER)
    approved = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert approved.json()["status"] == "CONFIRMED"


async def test_suspension_stops_only_that_wallets_sends(harness):
    wallet, headers, _ = await funded(harness)
    _, other, _ = await funded(harness, "other")
    bob = await recipient(harness)
    suspended = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/suspend", json={"reason": "odd"}, headers=MASTER
    )
    assert suspended.json() == {
        "walletId": wallet["id"],
        "status": "SUSPENDED",
        "reason": "odd",
        "since": 1_800_000_000,
    }
    shown = await harness.http.get(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    assert shown.json()["status"] == "SUSPENDED"
    refused = await send(harness, headers, bob, SOL)
    assert (refused.status_code, refused.json()["code"]) == (403, "WALLET_SUSPENDED")
    assert (await send(harness, other, bob, SOL)).status_code == 201
    resumed = await harness.http.post(f"/v1/wallets/{wallet['id']}/resume", headers=MASTER)
    assert (resumed.json()["status"], resumed.json()["reason"]) == ("ACTIVE", None)
    assert (await send(harness, headers, bob, SOL)).status_code == 201


async def test_a_terminated_wallet_cannot_be_suspended_or_resumed(harness):
    wallet = await harness.wallet()
    await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    for action in ("suspend", "resume"):
        response = await harness.http.post(f"/v1/wallets/{wallet['id']}/{action}", headers=MASTER)
        assert (response.status_code, response.json()["code"]) == (403, "WALLET_TERMINATED")


async def test_the_denial_that_reaches_the_threshold_suspends_the_wallet(harness):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob], autoSuspendAfterDenials=3)
    for _ in range(3):
        denied = await send(harness, headers, address(), SOL)
        assert denied.json()["code"] == "POLICY_DENIED"
    shown = (await harness.http.get(f"/v1/wallets/{wallet['id']}", headers=MASTER)).json()
    assert shown["status"] == "SUSPENDED"
    row = await harness.state.db.get_wallet(wallet["id"])
    assert row.status_reason == "auto: 3 denials within an hour"
    refused = await send(harness, headers, bob, SOL)
    assert refused.json()["code"] == "WALLET_SUSPENDED"
    items = (await harness.http.get("/v1/transactions", headers=headers)).json()["items"]
    assert [t["type"] for t in items] == ["AIRDROP"]  # denials record nothing


async def test_denials_older_than_an_hour_do_not_count(harness):
    wallet, headers, _ = await funded(harness, expiresIn=86400)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob], autoSuspendAfterDenials=2)
    await send(harness, headers, address(), SOL)
    harness.clock.advance(3600)
    await send(harness, headers, address(), SOL)
    assert (await harness.state.db.get_wallet(wallet["id"])).status == "ACTIVE"
    await send(harness, headers, address(), SOL)
    assert (await harness.state.db.get_wallet(wallet["id"])).status == "SUSPENDED"


async def test_auto_suspension_off_with_zero_and_at_ten_by_default(harness):
    wallet, headers, _ = await funded(harness, constraints={"maxAmountPerTx": "1"}, expiresIn=86400)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], autoSuspendAfterDenials=0)
    for _ in range(12):
        assert (await send(harness, headers, bob, 2)).json()["code"] == "CONSTRAINT_VIOLATED"
    assert (await harness.state.db.get_wallet(wallet["id"])).status == "ACTIVE"
    await set_policy(harness, wallet["id"])
    harness.clock.advance(3600)
    for _ in range(9):
        await send(harness, headers, bob, 2)
    assert (await harness.state.db.get_wallet(wallet["id"])).status == "ACTIVE"
    await send(harness, headers, bob, 2)
    assert (await harness.state.db.get_wallet(wallet["id"])).status_reason == (
        "auto: 10 denials within an hour"
    )


async def test_rate_limit_answers_429_with_retry_after(harness):
    wallet, headers, _ = await funded(harness, expiresIn=86400)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], maxSendsPerHour=2)
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    harness.clock.advance(600)
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    limited = await send(harness, headers, bob, SOL)
    assert (limited.status_code, limited.json()["code"]) == (429, "RATE_LIMITED")
    assert limited.headers["retry-after"] == "3000"
    harness.clock.advance(3000)
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    assert await balance(harness, headers) < 10 * SOL


async def test_a_suspended_wallet_still_receives_airdrops(harness):
    wallet = await harness.wallet()
    await harness.http.post(f"/v1/wallets/{wallet['id']}/suspend", headers=MASTER)
    airdrop = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(SOL)}, headers=MASTER
    )
    assert airdrop.status_code == 201, airdrop.text


async def test_kill_switch_refuses_session_creation_and_mcp_tokens(harness):
    wallet = await harness.wallet()
    await _kill(harness)
    for path, body in (
        ("/v1/sessions", {"walletId": wallet["id"]}),
        ("/v1/mcp/tokens", {"walletId": wallet["id"]}),
    ):
        refused = await harness.http.post(path, json=body, headers=MASTER)
        assert (refused.status_code, refused.json()["code"]) == (403, "KILL_SWITCH_ACTIVE")
    listed = await harness.http.get("/v1/sessions", headers=MASTER)
    assert listed.json()["items"] == []
    await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    assert (
        await harness.http.post("/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER)
    ).status_code == 201


async def test_the_agent_sees_the_kill_switch_and_a_suspension_in_its_own_session(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    headers = {"Authorization": f"Bearer {session['token']}"}

    async def own() -> dict:
        response = await harness.http.get("/v1/session", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    body = await own()
    assert body["id"] == session["id"]
    assert body["killSwitch"] == {"active": False, "reason": None, "since": None}
    assert body["wallet"] == {
        "walletId": wallet["id"],
        "status": "ACTIVE",
        "reason": None,
        "since": None,
    }
    await _kill(harness, reason="leaked key")
    assert (await own())["killSwitch"] == {
        "active": True,
        "reason": "leaked key",
        "since": 1_800_000_000,
    }
    harness.clock.advance(5)
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/suspend", json={"reason": "odd"}, headers=MASTER
    )
    assert (await own())["wallet"] == {
        "walletId": wallet["id"],
        "status": "SUSPENDED",
        "reason": "odd",
        "since": 1_800_000_005,
    }
    await harness.http.delete("/v1/admin/kill-switch", headers=MASTER)
    assert (await own())["killSwitch"]["active"] is False
