"""The owner's pages by real clicks in headless Chromium on a real daemon (issue 27)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.test_browser import PHONE, _sign_in, browser, daemon, page
from tests.support.daemon import Daemon

__all__ = ["browser", "daemon", "page"]

SOL = 1_000_000_000


def _agent(daemon: Daemon, name: str, label: str) -> tuple[dict, dict]:
    wallet = daemon.create_wallet(name)
    for body in ({"amount": str(3 * SOL)}, {"amount": "12500000", "token": "USDC"}):
        answer = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=body)
        assert answer.status_code == 201, answer.text
    session = daemon.create_session(wallet["id"], label=label)
    return wallet, session


def _send(daemon: Daemon, session: dict, to: str, amount: int, memo: str) -> dict:
    with daemon.client(headers={"Authorization": f"Bearer {session['token']}"}) as http:
        answer = http.post(
            "/v1/transactions/send", json={"to": to, "amount": str(amount), "memo": memo}
        )
    assert answer.status_code in (201, 202), answer.text
    return answer.json()


def test_the_owner_follows_the_money_from_overview_to_a_sends_story(daemon: Daemon, page: Page):
    wallet, session = _agent(daemon, "ops", "research-bot")
    savings = daemon.create_wallet("ops savings")
    policy = {"instantMax": str(SOL), "dailyLimit": str(2 * SOL)}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    sent = _send(daemon, session, savings["address"], SOL // 2, "monthly data plan")
    held = _send(daemon, session, savings["address"], 3 * SOL // 2, "a bigger purchase")
    assert held["status"] == "PENDING_APPROVAL"

    _sign_in(page, daemon)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="ops", exact=True))
    expect(row).to_contain_text("12.5 USDC")
    expect(row).to_contain_text("SOL last 24 h: 2 of 2 SOL")
    expect(row.locator("meter").first).to_be_visible()

    page.get_by_role("link", name="Approvals").first.click()
    waiting = page.get_by_role("row").filter(has_text="a bigger purchase")
    expect(waiting).to_contain_text("research-bot")
    expect(waiting).to_contain_text("your wallet ops savings")
    expect(waiting).to_contain_text("1.5 SOL")
    expect(waiting).to_contain_text("APPROVAL: above every ceiling")

    page.get_by_role("link", name="Activity", exact=True).click()
    page.get_by_label("Wallet").select_option(label="ops")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("img", name="Daily spend in SOL")).to_be_visible()
    expect(page.get_by_role("figure").first).to_contain_text("0.5 SOL")
    page.get_by_text("The numbers behind the SOL chart").click()
    expect(page.get_by_role("row", name="SOL 0.5").first).to_be_visible()
    page.locator(f'a[href="/console/transactions/{sent["id"]}"]').click()
    expect(page.get_by_role("heading", name="Send CONFIRMED")).to_be_visible()
    expect(page.locator("#send-rule")).to_have_text("at most instantMax (1 SOL)")
    expect(page.get_by_text("monthly data plan")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_role("link", name="Audit", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    entry = page.get_by_role("row").filter(has_text="send.pending")
    expect(entry).to_contain_text("agent research-bot")
    expect(entry).to_contain_text("1.5 SOL")
    entry.get_by_text("raw entry").click()
    expect(entry.locator("pre")).to_contain_text('"sessionLabel": "research-bot"')
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_agents_shows_each_session_and_revokes_one(daemon: Daemon, page: Page):
    wallet, session = _agent(daemon, "agents wallet", "claude-desktop")
    other = daemon.create_session(wallet["id"], label="cursor")
    _sign_in(page, daemon)
    page.get_by_role("link", name="Agents", exact=True).click()
    expect(page.get_by_role("row").filter(has_text="claude-desktop")).to_contain_text("0 of 30")
    page.get_by_role("button", name="Revoke cursor on agents wallet").click()
    expect(page.get_by_role("row").filter(has_text="cursor")).to_have_count(0)
    with daemon.client(headers={"Authorization": f"Bearer {other['token']}"}) as http:
        assert http.get("/v1/wallet/address").status_code == 401
    with daemon.client(headers={"Authorization": f"Bearer {session['token']}"}) as http:
        assert http.get("/v1/wallet/address").status_code == 200


def test_the_policy_form_saves_x402_and_token_rules_and_keeps_the_rest(daemon: Daemon, page: Page):
    wallet = daemon.create_wallet("form wallet")
    path = f"/v1/wallets/{wallet['id']}/policy"
    before = {"instantMax": "100000000", "x402": {"allowedHosts": ["api.example.com"]}}
    assert daemon.api("PUT", path, json=before).status_code == 200
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{wallet['id']}")
    expect(page.get_by_label("Hosts the agent may pay")).to_have_value("api.example.com")
    page.get_by_label("Daily limit (USDC)").fill("25.5")
    page.get_by_label("Pay any host").select_option("no")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved (version 2)")
    stored = daemon.api("GET", path).json()["policy"]
    assert stored["x402"] == {"allowedHosts": ["api.example.com"], "allowAnyHost": False}
    assert stored["instantMax"] == "100000000"
    [limits] = stored["tokens"].values()
    assert limits == {"dailyLimit": "25500000"}


def test_approvals_and_the_audit_log_fit_the_window_and_read_as_dates_and_units(
    daemon: Daemon, browser
):
    wallet, session = _agent(daemon, "wide wallet", "long-winded-agent")
    savings = daemon.create_wallet("wide savings")
    policy = {"instantMax": str(SOL // 10), "delayMax": str(SOL // 2)}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    sent = _send(daemon, session, savings["address"], SOL // 20, "small and confirmed")
    assert sent["status"] == "CONFIRMED"  # its signature is one 88-character word
    _send(daemon, session, savings["address"], SOL // 4, "held for its delay")
    _send(daemon, session, savings["address"], SOL, "waits for the owner")
    for width in (1100, 800):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        _sign_in(page, daemon)
        page.get_by_role("link", name="Approvals").first.click()
        expect(page.get_by_role("button", name="Approve").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.goto(f"{daemon.base_url}/console/audit?walletId={wallet['id']}")
        expect(page.get_by_role("status")).to_contain_text("Chain intact")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        created = page.get_by_role("row").filter(has_text="session.create")
        expect(created).to_contain_text(
            re.compile(r"expiresAt: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
        )
        confirmed = page.get_by_role("row").filter(has_text="small and confirmed")
        expect(confirmed.filter(has_text="send.confirmed").locator("code.address")).to_be_visible()
        context.close()
