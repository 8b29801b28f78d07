"""A suspended wallet says why and since when, in the wallet routes (issue #21)."""

import pytest

from tests.daemon.conftest import MASTER, START
from tests.daemon.policy_support import SOL, address, funded, recipient, send, set_policy

pytestmark = pytest.mark.anyio


async def _shown(harness, wallet_id):
    one = (await harness.http.get(f"/v1/wallets/{wallet_id}", headers=MASTER)).json()
    listed = (await harness.http.get("/v1/wallets", headers=MASTER)).json()["items"]
    assert [w for w in listed if w["id"] == wallet_id] == [one]
    return one


async def test_an_active_wallet_has_no_suspension_reason_or_time(harness):
    wallet = await harness.wallet()
    assert wallet["suspendedReason"] is None and wallet["suspendedAt"] is None
    shown = await _shown(harness, wallet["id"])
    assert (shown["suspendedReason"], shown["suspendedAt"]) == (None, None)


async def test_an_owner_suspension_shows_its_reason_and_time_until_resumed(harness):
    wallet = await harness.wallet()
    harness.clock.advance(7)
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/suspend", json={"reason": "odd sends"}, headers=MASTER
    )
    shown = await _shown(harness, wallet["id"])
    assert (shown["status"], shown["suspendedReason"], shown["suspendedAt"]) == (
        "SUSPENDED",
        "odd sends",
        int(START) + 7,
    )
    await harness.http.post(f"/v1/wallets/{wallet['id']}/resume", headers=MASTER)
    shown = await _shown(harness, wallet["id"])
    assert (shown["status"], shown["suspendedReason"], shown["suspendedAt"]) == (
        "ACTIVE",
        None,
        None,
    )


async def test_a_suspension_without_reason_says_it_was_the_owner(harness):
    wallet = await harness.wallet()
    await harness.http.post(f"/v1/wallets/{wallet['id']}/suspend", headers=MASTER)
    shown = await _shown(harness, wallet["id"])
    assert shown["suspendedReason"] == "suspended by the owner"


async def test_an_automatic_suspension_shows_the_denial_count(harness):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob], autoSuspendAfterDenials=2)
    harness.clock.advance(30)
    for _ in range(2):
        assert (await send(harness, headers, address(), SOL)).json()["code"] == "POLICY_DENIED"
    shown = await _shown(harness, wallet["id"])
    assert (shown["status"], shown["suspendedReason"], shown["suspendedAt"]) == (
        "SUSPENDED",
        "auto: 2 denials within an hour",
        int(START) + 30,
    )


async def test_a_terminated_wallet_shows_no_suspension(harness):
    wallet = await harness.wallet()
    await harness.http.post(f"/v1/wallets/{wallet['id']}/suspend", headers=MASTER)
    await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    shown = await _shown(harness, wallet["id"])
    assert (shown["status"], shown["suspendedReason"], shown["suspendedAt"]) == (
        "TERMINATED",
        None,
        None,
    )
