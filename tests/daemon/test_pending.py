"""Tiers, the owner's decisions, the agent's cancel and the scheduler, in-process,
on a fake clock."""

import anyio
import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock, Harness
from tests.daemon.policy_support import (
    FEE,
    SOL,
    balance,
    funded,
    recipient,
    send,
    set_policy,
    transaction,
)
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.scheduler import Scheduler
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

TIERED = {
    "instantMax": str(SOL),
    "notifyMax": str(2 * SOL),
    "delayMax": str(3 * SOL),
    "delaySeconds": 600,
    "approvalTimeout": 1800,
}


async def _never(seconds: float) -> None:
    # The scheduler's sleep in tests: time moves only when the test says so.
    await anyio.sleep_forever()


def scheduler(harness) -> Scheduler:
    return Scheduler(harness.state, sleep=_never)


async def _tiered(harness, **extra):
    wallet, headers, session = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], **{**TIERED, **extra})
    return wallet, headers, session, bob


async def test_each_tier_answers_as_the_spec_says(harness):
    _, headers, _, bob = await _tiered(harness)
    instant = await send(harness, headers, bob, SOL)
    notify = await send(harness, headers, bob, 2 * SOL)
    delay = await send(harness, headers, bob, 3 * SOL)
    approval = await send(harness, headers, bob, 3 * SOL + 1)
    assert (instant.status_code, instant.json()["tier"], instant.json()["status"]) == (
        201,
        "INSTANT",
        "CONFIRMED",
    )
    assert set(instant.json()) == {"id", "status", "tier", "signature"}
    assert (notify.status_code, notify.json()["tier"]) == (201, "NOTIFY")
    assert delay.status_code == 202
    assert delay.json() == {
        "id": delay.json()["id"],
        "status": "QUEUED",
        "tier": "DELAY",
        "executeAt": 1_800_000_600,
    }
    assert approval.status_code == 202
    assert approval.json() == {
        "id": approval.json()["id"],
        "status": "PENDING_APPROVAL",
        "tier": "APPROVAL",
        "approvalExpiresAt": 1_800_001_800,
    }
    record = await transaction(harness, headers, approval.json()["id"])
    assert (record["tier"], record["approvalExpiresAt"], record["decidedAt"]) == (
        "APPROVAL",
        1_800_001_800,
        None,
    )


async def test_pending_lists_waiting_sends_of_all_wallets_oldest_first(harness):
    _, headers, _, bob = await _tiered(harness)
    other, other_headers, _ = await funded(harness, "other")
    await set_policy(harness, other["id"], instantMax="1")
    first = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
    second = (await send(harness, other_headers, bob, SOL)).json()["id"]
    await send(harness, headers, bob, SOL)  # instant: not waiting
    items = (await harness.http.get("/v1/pending", headers=MASTER)).json()["items"]
    assert [(t["id"], t["status"]) for t in items] == [
        (first, "QUEUED"),
        (second, "PENDING_APPROVAL"),
    ]


async def test_approve_sends_now_and_a_second_decision_conflicts(harness):
    _, headers, _, bob = await _tiered(harness)
    before = await balance(harness, headers)
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    assert await balance(harness, headers) == before  # nothing moved yet
    approved = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["decidedAt"]) == ("CONFIRMED", 1_800_000_000)
    assert await balance(harness, headers) == before - 4 * SOL - FEE
    again = await harness.http.post(f"/v1/pending/{tx_id}/reject", headers=MASTER)
    assert (again.status_code, again.json()["code"]) == (409, "TRANSACTION_NOT_PENDING")


async def test_reject_records_the_reason_and_nothing_is_sent(harness):
    _, headers, _, bob = await _tiered(harness)
    before = await balance(harness, headers)
    tx_id = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
    rejected = await harness.http.post(
        f"/v1/pending/{tx_id}/reject", json={"reason": "not today"}, headers=MASTER
    )
    assert (rejected.json()["status"], rejected.json()["reason"]) == ("REJECTED", "not today")
    harness.clock.advance(600)
    assert await scheduler(harness).run_due() == 0
    assert await balance(harness, headers) == before


async def test_the_agent_cancels_its_own_waiting_send_only(harness):
    _, headers, _, bob = await _tiered(harness)
    _, other_headers, _ = await funded(harness, "other")
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    foreign = await harness.http.post(f"/v1/transactions/{tx_id}/cancel", headers=other_headers)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "TRANSACTION_NOT_FOUND")
    cancelled = await harness.http.post(f"/v1/transactions/{tx_id}/cancel", headers=headers)
    assert cancelled.json()["status"] == "CANCELLED"
    again = await harness.http.post(f"/v1/transactions/{tx_id}/cancel", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "TRANSACTION_NOT_PENDING")
    approve = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert approve.status_code == 409


async def test_a_queued_send_runs_at_execute_at_and_not_before(harness):
    _, headers, _, bob = await _tiered(harness)
    before = await balance(harness, headers)
    tx_id = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
    runner = scheduler(harness)
    harness.clock.advance(599)
    assert await runner.run_due() == 0
    harness.clock.advance(1)
    assert await runner.run_due() == 1
    record = await transaction(harness, headers, tx_id)
    assert (record["status"], record["tier"]) == ("CONFIRMED", "DELAY")
    assert await balance(harness, headers) == before - 3 * SOL - FEE
    assert await runner.run_due() == 0


async def test_a_pending_approval_expires_after_the_timeout(harness):
    _, headers, _, bob = await _tiered(harness)
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    runner = scheduler(harness)
    harness.clock.advance(1799)
    assert await runner.run_due() == 0
    harness.clock.advance(1)
    assert await runner.run_due() == 1
    record = await transaction(harness, headers, tx_id)
    assert (record["status"], record["decidedAt"]) == ("EXPIRED", 1_800_001_800)


async def test_approval_after_the_timeout_conflicts_even_before_the_scheduler_ran(harness):
    _, headers, _, bob = await _tiered(harness)
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    harness.clock.advance(1800)
    late = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert (late.status_code, late.json()["code"]) == (409, "TRANSACTION_NOT_PENDING")
    assert (await transaction(harness, headers, tx_id))["status"] == "EXPIRED"


async def test_a_deadline_passed_between_a_pass_and_its_timer_is_looked_at_at_once(harness):
    # The pass ran a moment before the expiry, the timer is computed a moment after
    # it: that is not a held send, so no 60 s wait (the e2e expiry test saw one).
    _, headers, _, bob = await _tiered(harness)
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    runner = scheduler(harness)
    harness.clock.advance(1799.5)
    assert await runner.run_due() == 0
    harness.clock.advance(0.6)
    assert await runner._delay() == 0
    assert await runner.run_due() == 1
    assert (await transaction(harness, headers, tx_id))["status"] == "EXPIRED"


async def test_a_due_send_held_by_the_kill_switch_is_looked_at_again_later(harness):
    _, headers, _, bob = await _tiered(harness, delaySeconds=0)
    assert (await send(harness, headers, bob, 3 * SOL)).status_code == 202
    assert (await harness.http.post("/v1/admin/kill-switch", headers=MASTER, json={})).is_success
    runner = scheduler(harness)
    harness.clock.advance(1)
    assert await runner.run_due() == 0
    assert await runner._delay() == 60


async def test_the_scheduler_task_wakes_on_a_new_send_and_on_its_own_timer(harness):
    _, headers, _, bob = await _tiered(harness, delaySeconds=0)
    slept = []
    gate = anyio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await gate.wait()

    runner = Scheduler(harness.state, sleep=sleep)
    async with anyio.create_task_group() as group:
        group.start_soon(runner.run)
        tx_id = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
        runner.wake()
        with anyio.fail_after(5):
            while (await transaction(harness, headers, tx_id))["status"] != "CONFIRMED":
                await anyio.sleep(0.01)
        group.cancel_scope.cancel()
    assert slept and max(slept) <= 3600


async def test_failed_balance_at_execution_fails_the_send_with_the_reason(harness):
    wallet, headers, _, bob = await _tiered(harness)
    tx_id = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    # Spend most of the wallet meanwhile (instant sends still go).
    await set_policy(harness, wallet["id"])
    assert (await send(harness, headers, bob, 9 * SOL)).status_code == 201
    approved = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
    assert approved.status_code == 200
    assert approved.json()["status"] == "FAILED"
    assert "balance" in approved.json()["reason"]
    assert await _audited(harness, "send.failed", tx_id)


async def test_a_revoked_session_cancels_its_waiting_sends(harness):
    _, headers, session, bob = await _tiered(harness)
    queued = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
    waiting = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    await harness.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
    for tx_id in (queued, waiting):
        record = await harness.state.db.get_transaction(tx_id)
        assert (record.status, record.reason) == ("CANCELLED", "the session was revoked")
        assert await _audited(harness, "send.cancelled", tx_id)
    assert (await harness.http.get("/v1/pending", headers=MASTER)).json()["items"] == []


async def test_terminating_a_wallet_audits_the_cancellation_of_its_waiting_sends(harness):
    wallet, headers, _, bob = await _tiered(harness)
    waiting = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    assert (await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)).is_success
    assert (await harness.state.db.get_transaction(waiting)).status == "CANCELLED"
    assert await _audited(harness, "send.cancelled", waiting)


async def test_replacing_an_mcp_session_audits_the_cancellation_of_its_waiting_sends(harness):
    wallet, _, _, bob = await _tiered(harness)
    body = {"walletId": wallet["id"], "label": "mcp"}
    first = (await harness.http.post("/v1/sessions", json=body, headers=MASTER)).json()
    headers = {"Authorization": f"Bearer {first['token']}"}
    waiting = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    assert (await harness.http.post("/v1/sessions", json=body, headers=MASTER)).status_code == 201
    assert (await harness.state.db.get_transaction(waiting)).status == "CANCELLED"
    assert await _audited(harness, "send.cancelled", waiting)


async def _audited(harness, action: str, tx_id: str) -> bool:
    """An audit entry of ``action`` names the transaction, and the chain still verifies."""
    listed = await harness.http.get("/v1/audit", params={"action": action}, headers=MASTER)
    assert listed.status_code == 200, listed.text
    verified = (await harness.http.get("/v1/audit/verify", headers=MASTER)).json()
    assert verified["ok"], verified
    return any(e["transactionId"] == tx_id for e in listed.json()["items"])


async def test_totals_count_queued_and_pending_sends(harness):
    _wallet, headers, _, bob = await _tiered(harness, dailyLimit=str(5 * SOL))
    assert (await send(harness, headers, bob, 3 * SOL)).json()["status"] == "QUEUED"
    # 3 queued + 2 = 5: within the limit, so its own tier (NOTIFY).
    assert (await send(harness, headers, bob, 2 * SOL)).json()["tier"] == "NOTIFY"
    over = await send(harness, headers, bob, 1)
    assert (over.status_code, over.json()["tier"]) == (202, "APPROVAL")
    # A rejected send no longer counts.
    pending = (await harness.http.get("/v1/pending", headers=MASTER)).json()["items"]
    for item in pending:
        await harness.http.post(f"/v1/pending/{item['id']}/reject", headers=MASTER)
    assert (await send(harness, headers, bob, 3 * SOL)).json()["status"] == "QUEUED"


async def test_a_queued_send_survives_a_restart_and_is_sent_once(tmp_path):
    clock = FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    from waiaas_core.config import Settings

    settings = Settings(min_session_ttl=10, session_ttl=3600)

    async def opened():
        return DaemonState.open(
            settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
        )

    async with await opened() as state:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            harness = Harness(state, http, clock)
            _, headers, _, bob = await _tiered(harness)
            before = await balance(harness, headers)
            queued = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
            expiring = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    clock.advance(1800)  # past executeAt (600) and the approval timeout (1800)
    for _ in range(2):  # a second start must not send it again
        async with await opened() as state:
            transport = httpx.ASGITransport(app=create_app(state))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                harness = Harness(state, http, clock)
                await Scheduler(state, sleep=_never).run_due()
                assert (await transaction(harness, headers, queued))["status"] == "CONFIRMED"
                assert (await transaction(harness, headers, expiring))["status"] == "EXPIRED"
                assert await balance(harness, headers) == before - 3 * SOL - FEE


async def test_every_step_hands_its_event_to_the_hook_inside_its_transaction(harness, monkeypatch):
    from waiaas_daemon.storage import Database

    seen = []

    async def record(self, db, events):
        assert db.in_transaction  # written with the change, or not at all
        seen.extend((e.actor.split(":")[0], e.action, e.transaction_id is not None) for e in events)

    monkeypatch.setattr(Database, "_emit", record)
    wallet, headers, _, bob = await _tiered(
        harness, autoSuspendAfterDenials=1, allowedRecipients=[]
    )
    seen.clear()
    await set_policy(harness, wallet["id"], **TIERED)
    await send(harness, headers, bob, SOL)
    queued = (await send(harness, headers, bob, 3 * SOL)).json()["id"]
    waiting = (await send(harness, headers, bob, 4 * SOL)).json()["id"]
    await harness.http.post(f"/v1/pending/{waiting}/approve", headers=MASTER)
    await harness.http.post(f"/v1/pending/{queued}/reject", headers=MASTER)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob], autoSuspendAfterDenials=1)
    from tests.daemon.policy_support import address

    await send(harness, headers, address(), SOL)
    await harness.http.post(f"/v1/wallets/{wallet['id']}/resume", headers=MASTER)
    await harness.http.post("/v1/admin/kill-switch", headers=MASTER)
    assert seen == [
        ("owner", "policy_set", False),
        ("session", "send_requested", True),
        ("daemon", "send_confirmed", True),
        ("session", "send_queued", True),
        ("session", "approval_required", True),
        ("owner", "send_approved", True),
        ("daemon", "send_confirmed", True),
        ("owner", "send_rejected", True),
        ("owner", "policy_set", False),
        ("session", "send_denied", False),
        ("daemon", "wallet_suspended", False),
        ("owner", "wallet_resumed", False),
        ("owner", "kill_switch_on", False),
    ]
