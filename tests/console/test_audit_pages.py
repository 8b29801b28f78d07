"""Audit log and notifications pages, in-process: what the owner did shows up, the
filters and the chain check work, a test notification goes through the REST route."""

from __future__ import annotations

import pytest

from tests.console.conftest import Owner
from tests.daemon.conftest import NO_PRICES
from waiaas_core.config import Settings

pytestmark = pytest.mark.anyio
WEBHOOK_SECRET = "whsec-console-must-never-show-this"


@pytest.fixture
def settings() -> Settings:
    # A receiver that is never there: deliveries stay pending, which the page shows.
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret=WEBHOOK_SECRET,
        **NO_PRICES,
    )


async def _stop_and_start(owner: Owner) -> None:
    token = await owner.csrf_token()
    for path in ("/console/kill-switch/on", "/console/kill-switch/off"):
        assert (await owner.post(path, {"csrf_token": token, "reason": "drill"})).status_code == 303


async def test_the_owners_console_actions_are_in_the_audit_log_and_the_chain_checks(harness, owner):
    await _stop_and_start(owner)
    page = await owner.http.get("/console/audit?verify=1")
    assert page.status_code == 200
    assert "kill_switch.on" in page.text and "kill_switch.off" in page.text
    assert "Chain intact" in page.text


async def test_the_action_filter_shows_only_that_action(harness, owner):
    await _stop_and_start(owner)
    page = await owner.http.get("/console/audit?action=kill_switch.off&walletId=")
    assert '<td data-label="Action">kill_switch.off</td>' in page.text
    assert '<td data-label="Action">kill_switch.on</td>' not in page.text


async def test_a_bad_filter_is_a_400_page_naming_the_field(harness, owner):
    page = await owner.http.get("/console/audit?action=nope", headers={"Accept": "text/html"})
    assert page.status_code == 400
    assert "action" in page.text


async def test_a_test_notification_is_queued_and_listed_without_its_secret(harness, owner):
    token = await owner.csrf_token("/console/notifications")
    sent = await owner.post("/console/notifications/test", {"csrf_token": token})
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/console/notifications?sent=")
    page = await owner.http.get(sent.headers["location"])
    assert "Test notification queued" in page.text
    assert '<td data-label="Event">test</td>' in page.text
    assert "webhook" in page.text
    assert WEBHOOK_SECRET not in page.text
    assert "/hook" not in page.text  # the URL is shown masked


async def test_a_test_notification_without_the_csrf_token_sends_nothing(harness, owner):
    answer = await owner.post("/console/notifications/test", {})
    assert answer.status_code == 403
    assert "CSRF_FAILED" in answer.text
    page = await owner.http.get("/console/notifications")
    assert "No deliveries." in page.text


@pytest.mark.parametrize("settings", [Settings(min_session_ttl=10, session_ttl=3600)])
async def test_with_no_channel_the_test_says_how_to_configure_one(harness, owner):
    token = await owner.csrf_token("/console/notifications")
    answer = await owner.post("/console/notifications/test", {"csrf_token": token})
    assert answer.status_code == 400
    assert "no channel is configured" in answer.text
    assert "No channel is configured: set one under" in answer.text
