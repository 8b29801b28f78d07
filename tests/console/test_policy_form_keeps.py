"""Saving the console's policy form changes only the fields it shows (issue #25, item 3):
the owner's x402 rules, per-token rules and anything else the form has no field for stay.
Real clicks in headless Chromium on a real daemon."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.test_browser import _sign_in, browser, daemon, page
from tests.console.test_browser_owner import Agent

__all__ = ["browser", "daemon", "page"]


def test_saving_the_policy_form_keeps_the_x402_rules_it_does_not_show(daemon, page):
    agent = Agent(daemon, "x402 keeper")
    mint = daemon.api("GET", "/v1/tokens").json()["items"][0]["mint"]
    x402 = {
        "allowedHosts": ["api.example.com", "127.0.0.1:4021"],
        "maxPerRequest": {mint: "500000"},
        "preferredNetworks": ["solana:localnet"],
    }
    current = daemon.api("GET", agent.path("policy")).json()["policy"]
    put = daemon.api("PUT", agent.path("policy"), json={**current, "x402": x402})
    assert put.status_code == 200, put.text
    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/wallets/{agent.wallet['id']}")
    page.get_by_label("Max sends per hour").fill("12")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_role("status")).to_contain_text("Policy saved")
    saved = daemon.api("GET", agent.path("policy")).json()["policy"]
    assert saved["maxSendsPerHour"] == 12
    assert saved["x402"] == x402
