"""The owner's decisions by real clicks in headless Chromium on a real daemon (SPEC 12, 13, 15).

Each test makes its own wallets and waiting sends through the REST API with a
session token, then acts in the console and checks the outcome through the API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.test_browser import PHONE, _sign_in, browser, daemon, page
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon
from tests.support.prices import price_fakes

__all__ = ["browser", "daemon", "page"]

# The committed screenshots are refreshed with WAIAAS_SCREENSHOTS=docs/screenshots;
# an ordinary run (CI) writes them to a temporary folder and leaves the tree alone.
SCREENSHOTS_ENV = "WAIAAS_SCREENSHOTS"
# Everything up to 0.1 SOL is instant, up to 1 SOL waits an hour, above that needs a yes.
HOLDING_POLICY = {"instantMax": "100000000", "delayMax": "1000000000", "delaySeconds": 3600}
APPROVAL_AMOUNT = "1500000000"  # 1.5 SOL
DELAY_AMOUNT = "250000000"  # 0.25 SOL


class Agent:
    """A funded wallet with a policy that holds its sends, and one session token."""

    def __init__(self, daemon: Daemon, name: str) -> None:
        self.daemon = daemon
        self.wallet = daemon.create_wallet(name)
        self.recipient = daemon.create_wallet(name + " payee")["address"]
        airdrop = daemon.api("POST", self.path("airdrop"), json={"amount": "5000000000"})
        assert airdrop.status_code in (200, 201), airdrop.text
        put = daemon.api("PUT", self.path("policy"), json=HOLDING_POLICY)
        assert put.status_code == 200, put.text
        self.session = daemon.create_session(self.wallet["id"], label=name)

    def path(self, tail: str) -> str:
        return f"/v1/wallets/{self.wallet['id']}/{tail}"

    def send(self, amount: str) -> httpx.Response:
        with self.daemon.client() as http:
            return http.post(
                "/v1/transactions/send",
                json={"to": self.recipient, "amount": amount},
                headers={"Authorization": f"Bearer {self.session['token']}"},
            )

    def held(self, amount: str, status: str) -> dict[str, Any]:
        answer = self.send(amount)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == status
        return answer.json()


def _status(daemon: Daemon, tx_id: str) -> str:
    pending = daemon.api("GET", "/v1/pending").json()["items"]
    return next((tx["status"] for tx in pending if tx["id"] == tx_id), "not waiting")


def _row(page: Page, tx_id: str):
    return page.get_by_role("row").filter(has=page.locator(f'a[href="/console/approvals/{tx_id}"]'))


@pytest.fixture
def agent(daemon: Daemon, request) -> Agent:
    return Agent(daemon, request.node.name[5:35])


def test_approving_a_pending_send_in_the_console_sends_it_and_shows_it_confirmed(
    daemon, page, agent
):
    tx = agent.held(APPROVAL_AMOUNT, "PENDING_APPROVAL")
    _sign_in(page, daemon)
    page.get_by_role("link", name="Approvals").first.click()
    row = _row(page, tx["id"])
    expect(row).to_contain_text("1.5")
    short = f"{agent.recipient[:4]}…{agent.recipient[-4:]}"
    expect(row.get_by_title(agent.recipient)).to_have_text(short)
    expect(row).to_contain_text("APPROVAL")
    expect(row).to_contain_text("until expired")
    row.get_by_role("button", name="Approve").click()
    # The send's own page, now its story: confirmed.
    expect(page.get_by_role("heading", name="Send CONFIRMED")).to_be_visible()
    expect(page.locator("#send-status")).to_have_text("CONFIRMED")
    assert _status(daemon, tx["id"]) == "not waiting"
    with daemon.client() as http:
        record = http.get(
            f"/v1/transactions/{tx['id']}",
            headers={"Authorization": f"Bearer {agent.session['token']}"},
        )
    assert record.json()["status"] == "CONFIRMED"


def test_rejecting_a_queued_send_with_a_reason_makes_it_rejected(daemon, page, agent):
    tx = agent.held(DELAY_AMOUNT, "QUEUED")
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/approvals/{tx['id']}")
    expect(page.get_by_text("until sent")).to_be_visible()
    expect(page.get_by_text(agent.recipient)).to_be_visible()
    page.get_by_label("Reason to reject").fill("not this one")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#send-status")).to_have_text("REJECTED")
    expect(page.get_by_text("not this one").first).to_be_visible()  # the reason, in the story too
    assert _status(daemon, tx["id"]) == "not waiting"


def test_the_approvals_list_shows_a_new_send_by_itself(daemon, page, agent):
    _sign_in(page, daemon)
    page.goto(daemon.base_url + "/console/approvals")
    expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
    tx = agent.held(APPROVAL_AMOUNT, "PENDING_APPROVAL")
    # No reload: htmx polls the list every 5 s.
    expect(_row(page, tx["id"])).to_be_visible(timeout=12_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_a_policy_set_in_sol_through_the_form_is_the_wallets_policy(daemon, page, agent):
    recipient = agent.recipient
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    page.get_by_label("Instant up to (SOL)").fill("0.000000001")
    page.get_by_label("Notify up to (SOL)").fill("0.5")
    page.get_by_label("Delay up to (SOL)").fill("2")
    page.get_by_label("Delay", exact=True).fill("15m")
    page.get_by_label("Approval timeout").fill("2h")
    page.get_by_label("Daily limit (SOL)").fill("10.123456789")
    page.get_by_label("Monthly limit (SOL)").fill("")
    page.get_by_label("Max sends per hour").fill("30")
    page.get_by_label("Allowed recipients").fill(recipient)
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved")
    expect(page.get_by_label("Daily limit (SOL)")).to_have_value("10.123456789")
    view = daemon.api("GET", agent.path("policy")).json()
    assert view["policy"] == {
        "instantMax": "1",
        "notifyMax": "500000000",
        "delayMax": "2000000000",
        "delaySeconds": 900,
        "approvalTimeout": 7200,
        "dailyLimit": "10123456789",
        "allowedRecipients": [recipient],
        "maxSendsPerHour": 30,
    }


def test_a_policy_changed_after_the_page_loaded_is_not_overwritten_by_the_form(daemon, page, agent):
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    other = daemon.api("PUT", agent.path("policy"), json={"dailyLimit": "9000000000"})
    assert other.status_code == 200, other.text
    page.get_by_label("Instant up to (SOL)").fill("0.5")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("alert")).to_contain_text("POLICY_VERSION_CONFLICT")
    expect(page.get_by_label("Daily limit (SOL)")).to_have_value("9")
    assert daemon.api("GET", agent.path("policy")).json()["policy"] == {"dailyLimit": "9000000000"}
    page.get_by_label("Instant up to (SOL)").fill("0.5")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved")
    assert daemon.api("GET", agent.path("policy")).json()["policy"] == {
        "dailyLimit": "9000000000",
        "instantMax": "500000000",
    }


def test_a_wrong_policy_is_shown_on_the_page_and_not_saved(daemon, page, agent):
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    page.get_by_label("Notify up to (SOL)").fill("0.05")  # below instantMax 0.1
    page.get_by_label("Delay up to (SOL)").fill("1.0000000001")  # 10 decimals
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("has 10 decimals; this asset has only 9")).to_be_visible()
    page.get_by_label("Delay up to (SOL)").fill("1")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("notifyMax: must not be below instantMax")).to_be_visible()
    expect(page.get_by_label("Notify up to (SOL)")).to_have_value("0.05")
    assert daemon.api("GET", agent.path("policy")).json()["policy"] == HOLDING_POLICY


def test_the_kill_switch_refuses_sends_while_on_and_they_work_again_when_off(daemon, page, agent):
    _sign_in(page, daemon)
    expect(page.get_by_role("status")).to_contain_text("OFF")
    page.get_by_label("Reason for the kill switch").fill("incident drill")
    page.get_by_role("button", name="Stop everything").click()
    expect(page.get_by_role("status")).to_contain_text("ON")
    expect(page.get_by_role("status")).to_contain_text("incident drill")
    try:
        refused = agent.send("1000")
        assert refused.status_code == 403
        assert refused.json()["code"] == "KILL_SWITCH_ACTIVE"
        status = daemon.api("GET", "/v1/admin/status").json()["killSwitch"]
        assert (status["active"], status["reason"]) == (True, "incident drill")
    finally:
        page.get_by_role("button", name="Turn the kill switch off").click()
    expect(page.get_by_role("status")).to_contain_text("OFF")
    assert agent.send("1000").status_code == 201


def test_suspending_a_wallet_refuses_its_sends_and_resuming_allows_them(daemon, page, agent):
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    page.get_by_label("Reason to suspend").fill("odd activity")
    page.get_by_role("button", name="Suspend this wallet").click()
    expect(page.get_by_role("button", name="Resume this wallet")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("SUSPENDED")
    expect(page.locator(".facts")).to_contain_text("odd activity, since")
    refused = agent.send("1000")
    assert (refused.status_code, refused.json()["code"]) == (403, "WALLET_SUSPENDED")
    page.get_by_role("button", name="Resume this wallet").click()
    expect(page.get_by_role("button", name="Suspend this wallet")).to_be_visible()
    assert agent.send("1000").status_code == 201


@pytest.fixture
def wide_page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    yield context.new_page()
    context.close()


def test_screenshots_of_the_overview_and_the_approvals_with_waiting_sends(tmp_path, wide_page):
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    with price_fakes() as fakes:
        fakes.set("SOL", "150")  # the overview shows each holding in dollars
        fakes.set("USDC", "1")
        config = {"security": FAST_SECURITY, "prices": fakes.config()}
        with running_daemon(tmp_path / "data", config=config) as daemon:
            _screenshots(daemon, wide_page, folder)


def _screenshots(daemon: Daemon, wide_page: Page, folder: Path) -> None:
    agents = [Agent(daemon, name) for name in ("research-agent", "trading-bot")]
    for agent in agents:
        agent.held(APPROVAL_AMOUNT, "PENDING_APPROVAL")
        agent.held(DELAY_AMOUNT, "QUEUED")
    _sign_in(wide_page, daemon)
    expect(wide_page.get_by_role("heading", name="Wallets")).to_be_visible()
    expect(wide_page.locator(".worth-all")).to_contain_text("All wallets hold ≈ $")
    folder.mkdir(parents=True, exist_ok=True)
    wide_page.screenshot(path=folder / "console-overview.png", full_page=True)
    wide_page.get_by_role("link", name="Approvals").first.click()
    expect(wide_page.get_by_role("button", name="Approve").first).to_be_visible()
    wide_page.screenshot(path=folder / "console-approvals.png", full_page=True)
    assert (folder / "console-approvals.png").stat().st_size > 10_000
    for agent in agents:
        agent.send("50000000")  # 0.05 SOL, instant: something for the activity chart
    wide_page.get_by_role("link", name="Activity", exact=True).click()
    expect(wide_page.get_by_role("img", name="Daily spend in SOL")).to_be_visible()
    wide_page.screenshot(path=folder / "console-activity.png", full_page=True)
    wide_page.get_by_role("link", name="Agents", exact=True).click()
    expect(wide_page.get_by_role("button", name="Revoke").first).to_be_visible()
    wide_page.screenshot(path=folder / "console-agents.png", full_page=True)


def test_the_audit_log_shows_the_owners_suspension_and_the_chain_checks(daemon, page, agent):
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    page.get_by_role("button", name="Suspend this wallet").click()
    expect(page.get_by_role("button", name="Resume this wallet")).to_be_visible()
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Wallet").select_option(label=agent.wallet["name"])
    page.get_by_label("Action").select_option("wallet.suspend")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row").filter(has_text="wallet.suspend")).to_have_count(1)
    page.get_by_role("link", name="Check the chain").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
