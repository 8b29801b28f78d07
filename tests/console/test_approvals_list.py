"""The approvals list that htmx polls, and the policy form's conversions, in-process."""

from __future__ import annotations

import pytest

from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy
from waiaas_daemon.serving.console import policyform

pytestmark = pytest.mark.anyio


async def test_the_lists_own_refresh_does_not_keep_an_idle_session_alive(harness, owner):
    harness.clock.advance(10 * 60)
    assert (await owner.http.get("/console/approvals/list")).status_code == 200
    harness.clock.advance(6 * 60)  # 16 minutes since the owner's last page
    polled = await owner.http.get("/console/approvals/list")
    assert polled.status_code == 286  # htmx stops polling
    assert "Your console session has ended" in polled.text
    assert "<html" not in polled.text  # a notice for inside the list, not a whole page
    answer = await owner.http.get("/console/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/signin")


async def test_the_list_answers_the_page_headers_and_no_whole_page(harness, owner):
    answer = await owner.http.get("/console/approvals/list")
    assert answer.headers["content-security-policy"] == "default-src 'self'"
    assert "Nothing is waiting." in answer.text
    assert "<html" not in answer.text


async def test_the_approval_page_of_an_unknown_send_is_404(harness, owner):
    answer = await owner.http.get(
        "/console/approvals/00000000-0000-4000-8000-000000000000", headers={"Accept": "text/html"}
    )
    assert answer.status_code == 404
    assert "TRANSACTION_NOT_FOUND" in answer.text


def test_sol_amounts_and_durations_convert_exactly_both_ways():
    document, errors = policyform.document_of(
        {
            "instantMax": "0.1",
            "dailyLimit": "18446744073.709551615",
            "delaySeconds": "15m",
            "maxSendsPerHour": "7",
            "allowedRecipients": " a1, b2\nc3 ",
            "notifyMax": "",
        },
        {"tokens": {"m": {"instantMax": "5"}}, "allowedTokens": ["m"], "delayMax": "9"},
    )
    assert errors == {}
    assert document == {
        "tokens": {"m": {"instantMax": "5"}},
        "allowedTokens": ["m"],
        "delayMax": "9",  # not in the form: kept, never dropped
        "instantMax": "100000000",
        "dailyLimit": "18446744073709551615",
        "delaySeconds": 900,
        "maxSendsPerHour": 7,
        "allowedRecipients": ["a1", "b2", "c3"],
    }
    fields = policyform.fields_of(document)
    assert (fields["instantMax"], fields["dailyLimit"], fields["delaySeconds"]) == (
        "0.1",
        "18446744073.709551615",
        "15m",
    )
    assert fields["notifyMax"] == ""


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        ("instantMax", "0.0000000001", "has 10 decimals"),
        ("instantMax", "1e3", "is not an amount"),
        ("instantMax", "-1", "cannot be negative"),
        ("dailyLimit", "18446744073.709551616", "too large"),
        ("delaySeconds", "soon", "is not a duration"),
        ("maxSendsPerHour", "1.5", "is not a whole number"),
    ],
)
def test_a_field_that_cannot_be_read_is_named_with_what_is_wrong(field, text, says):
    _, errors = policyform.document_of({field: text}, {})
    assert list(errors) == [field]
    assert says in errors[field]


def test_an_api_message_is_mapped_to_the_field_it_names():
    assert policyform.field_of("notifyMax: must not be below instantMax (5)") == "notifyMax"
    assert policyform.field_of("allowedRecipients[2]: not a base58 address") == "allowedRecipients"
    assert policyform.field_of("tokens.abc.instantMax: x") is None


async def test_an_approval_while_the_kill_switch_is_on_is_refused_and_the_send_keeps_waiting(
    harness, owner
):
    wallet, headers, _ = await funded(harness)
    await set_policy(harness, wallet["id"], instantMax=str(SOL // 10))
    tx = (await send(harness, headers, await recipient(harness), SOL)).json()
    token = await owner.csrf_token()
    assert (await owner.post("/console/kill-switch/on", {"csrf_token": token})).status_code == 303
    answer = await owner.post(f"/console/approvals/{tx['id']}/approve", {"csrf_token": token})
    assert answer.status_code == 403
    assert "KILL_SWITCH_ACTIVE" in answer.text
    page = await owner.http.get(f"/console/approvals/{tx['id']}")
    assert "PENDING_APPROVAL" in page.text
    assert ">Approve</button>" in page.text
