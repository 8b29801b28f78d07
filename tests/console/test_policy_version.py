"""The console's policy form carries the version it showed: a change made meanwhile by
someone else is a conflict shown on the page, not overwritten (issue #21)."""

import re

import pytest

from tests.console.conftest import MASTER
from tests.daemon.policy_support import set_policy

pytestmark = pytest.mark.anyio

VERSION_FIELD = re.compile(r'<input type="hidden" name="version" value="(\d+)">')


async def _form(owner, wallet_id):
    page = await owner.http.get(f"/console/wallets/{wallet_id}")
    assert page.status_code == 200, page.text
    [version] = VERSION_FIELD.findall(page.text)
    return int(version), await owner.csrf_token(f"/console/wallets/{wallet_id}")


async def _stored(harness, wallet_id):
    return (await harness.http.get(f"/v1/wallets/{wallet_id}/policy", headers=MASTER)).json()


async def test_the_form_carries_the_version_it_shows(harness, owner):
    wallet = await harness.wallet()
    assert (await _form(owner, wallet["id"]))[0] == 0
    await set_policy(harness, wallet["id"], instantMax="5")
    assert (await _form(owner, wallet["id"]))[0] == 1


async def test_a_save_over_a_policy_changed_meanwhile_is_refused_and_says_so(harness, owner):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], dailyLimit="7000000000")
    version, token = await _form(owner, wallet["id"])
    await set_policy(harness, wallet["id"], dailyLimit="9000000000")  # someone else

    form = {"csrf_token": token, "version": str(version), "instantMax": "0.5"}
    answer = await owner.post(f"/console/wallets/{wallet['id']}/policy", form)
    assert answer.status_code == 409, answer.text
    assert "POLICY_VERSION_CONFLICT" in answer.text
    assert "changed" in answer.text
    # The form shows the policy as it is now, for the owner to make the change again.
    assert 'value="0.5"' not in answer.text and 'value="9"' in answer.text
    assert "not saved" in answer.text
    assert VERSION_FIELD.findall(answer.text) == ["2"]
    stored = await _stored(harness, wallet["id"])
    assert (stored["version"], stored["policy"]) == (2, {"dailyLimit": "9000000000"})

    form |= {"version": "2", "dailyLimit": "9"}
    saved = await owner.post(f"/console/wallets/{wallet['id']}/policy", form)
    assert saved.status_code == 303, saved.text
    assert (await _stored(harness, wallet["id"]))["policy"] == {
        "dailyLimit": "9000000000",
        "instantMax": "500000000",
    }


async def test_a_version_that_is_not_a_number_is_a_400(harness, owner):
    wallet = await harness.wallet()
    _, token = await _form(owner, wallet["id"])
    form = {"csrf_token": token, "version": "1e1", "instantMax": "0.5"}
    answer = await owner.post(f"/console/wallets/{wallet['id']}/policy", form)
    assert answer.status_code == 400, answer.text
    assert (await _stored(harness, wallet["id"]))["version"] == 0
