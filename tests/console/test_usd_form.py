"""Dollar rules in the console's policy form and session budgets on the wallet page, by
real clicks in headless Chromium on a real daemon (issue 26)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.test_browser import _sign_in, browser, daemon, page

__all__ = ["browser", "daemon", "page"]

HOSTS = {"x402": {"allowedHosts": ["api.example.com"]}}


def test_dollar_rules_set_through_the_form_are_the_wallets_usd_policy(daemon, page):
    wallet = daemon.create_wallet("usd form")
    put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=HOSTS)
    assert put.status_code == 200, put.text
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{wallet['id']}")
    page.get_by_label("Instant up to ($)").fill("5")
    page.get_by_label("Notify up to ($)").fill("$20.50")
    page.get_by_label("Daily limit ($)").fill("50")
    page.get_by_label("Telegram approval up to ($)").fill("25")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved")
    expect(page.get_by_label("Notify up to ($)")).to_have_value("20.5")
    policy = daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()["policy"]
    assert policy == {
        "usd": {
            "instantMax": "5",
            "notifyMax": "20.5",
            "dailyLimit": "50",
            "chatApprovalMax": "25",
        },
        **HOSTS,  # rules the form has no fields for are kept
    }
    # Emptying every dollar field removes the dollar rules.
    for label in ("Instant up to ($)", "Notify up to ($)", "Daily limit ($)"):
        page.get_by_label(label).fill("")
    page.get_by_label("Telegram approval up to ($)").fill("")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved")
    assert daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()["policy"] == HOSTS


def test_wrong_dollar_rules_are_shown_at_their_fields_and_not_saved(daemon, page):
    wallet = daemon.create_wallet("usd wrong")
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{wallet['id']}")
    page.get_by_label("Instant up to ($)").fill("1.2345678")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("has 7 decimals; this asset has only 6")).to_be_visible()
    page.get_by_label("Instant up to ($)").fill("10")
    page.get_by_label("Notify up to ($)").fill("5")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("usd.notifyMax: must not be below instantMax")).to_be_visible()
    expect(page.get_by_label("Notify up to ($)")).to_have_attribute("aria-invalid", "true")
    assert daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()["version"] == 0


def test_a_sessions_dollar_budget_is_shown_on_the_wallet_page(daemon, page):
    wallet = daemon.create_wallet("usd budget")
    daemon.create_session(
        wallet["id"],
        label="agent",
        constraints={"maxUsdPerDay": "10", "allowNative": False, "maxAmountPerTx": "250000000"},
    )
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{wallet['id']}")
    row = page.get_by_role("row").filter(has_text="agent")
    expect(row).to_contain_text("0.25 SOL per send; $10 per day; no SOL")
