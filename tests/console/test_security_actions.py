"""Every change the owner makes in the console (approve, reject, kill switch, policy,
suspend, resume) is refused with 403 CSRF_FAILED, and changes nothing, without the
session's CSRF token, with another session's token or from a foreign origin."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.conftest import MASTER, Owner
from tests.daemon.conftest import Harness
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy

pytestmark = pytest.mark.anyio

HOLDING = {"instantMax": str(SOL // 10), "delayMax": str(SOL), "delaySeconds": 3600}


async def _world(harness: Harness) -> dict[str, Any]:
    """A wallet with a policy, one pending and one queued send."""
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], **HOLDING)
    pending = await send(harness, headers, bob, 2 * SOL)
    queued = await send(harness, headers, bob, SOL // 2)
    assert (pending.status_code, queued.status_code) == (202, 202)
    return {"wallet": wallet["id"], "pending": pending.json()["id"], "queued": queued.json()["id"]}


async def _snapshot(harness: Harness, world: dict[str, Any]) -> dict[str, Any]:
    """What any of the console's changes would change."""
    wallet = world["wallet"]
    get = harness.http.get
    return {
        "pending": (await get("/v1/pending", headers=MASTER)).json(),
        "status": (await get("/v1/admin/status", headers=MASTER)).json()["killSwitch"],
        "wallet": (await get(f"/v1/wallets/{wallet}", headers=MASTER)).json()["status"],
        "policy": (await get(f"/v1/wallets/{wallet}/policy", headers=MASTER)).json(),
    }


ACTIONS = {
    "approve": ("/console/approvals/{pending}/approve", {}),
    "reject": ("/console/approvals/{queued}/reject", {"reason": "no"}),
    "kill switch on": ("/console/kill-switch/on", {"reason": "x"}),
    "policy": ("/console/wallets/{wallet}/policy", {"instantMax": "1"}),
    "suspend": ("/console/wallets/{wallet}/suspend", {}),
}
REFUSALS = {
    "no token": (None, None),
    "foreign Origin": ("own", {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}),
    "foreign Origin, same-origin fetch": (
        "own",
        {"Origin": "http://evil.example", "Sec-Fetch-Site": "same-origin"},
    ),
    "another session's token": ("other", None),
}


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize("path_and_form", ACTIONS.values(), ids=ACTIONS.keys())
async def test_a_console_change_without_proof_it_came_from_this_session_changes_nothing(
    harness, owners, path_and_form, refusal
):
    first, second = owners
    for owner in owners:
        assert (await owner.sign_in()).status_code == 303
    world = await _world(harness)
    before = await _snapshot(harness, world)
    token_of, headers = refusal
    form = dict(path_and_form[1])
    if token_of is not None:
        form["csrf_token"] = await (first if token_of == "own" else second).csrf_token()
    answer = await first.post(path_and_form[0].format(**world), form, headers)
    assert answer.status_code == 403, answer.text
    assert "CSRF_FAILED" in answer.text
    assert await _snapshot(harness, world) == before


async def _suspended_and_stopped(harness: Harness, owner: Owner, world: dict[str, Any]) -> None:
    token = await owner.csrf_token()
    for path in (f"/console/wallets/{world['wallet']}/suspend", "/console/kill-switch/on"):
        assert (await owner.post(path, {"csrf_token": token})).status_code == 303


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize(
    "path", ["/console/kill-switch/off", "/console/wallets/{wallet}/resume"], ids=["off", "resume"]
)
async def test_turning_off_or_resuming_without_proof_changes_nothing(
    harness, owners, path, refusal
):
    first, second = owners
    for owner in owners:
        assert (await owner.sign_in()).status_code == 303
    world = await _world(harness)
    await _suspended_and_stopped(harness, first, world)
    before = await _snapshot(harness, world)
    token_of, headers = refusal
    form = (
        {}
        if token_of is None
        else {"csrf_token": await (first if token_of == "own" else second).csrf_token()}
    )
    answer = await first.post(path.format(**world), form, headers)
    assert answer.status_code == 403, answer.text
    assert "CSRF_FAILED" in answer.text
    assert await _snapshot(harness, world) == before


async def test_with_the_token_from_the_console_each_change_happens(harness, owner):
    world = await _world(harness)
    token = await owner.csrf_token()
    for path, form in ACTIONS.values():
        answer = await owner.post(path.format(**world), {**form, "csrf_token": token})
        assert answer.status_code == 303, (path, answer.text)
    after = await _snapshot(harness, world)
    assert after["status"]["active"] is True
    assert after["wallet"] == "SUSPENDED"
    # Only the posted field changes: a rule the post does not name is kept (a blank
    # field a browser posts removes its rule; tests/console/test_policy_form.py).
    assert after["policy"]["policy"] == {**HOLDING, "instantMax": str(SOL)}
    assert after["pending"]["items"] == []
