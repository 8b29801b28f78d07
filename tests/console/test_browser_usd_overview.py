"""The overview's dollar values in real Chromium, on a real daemon whose [prices] point at
loopback Pyth Hermes, CoinGecko and Jupiter servers (issue 27: "the USD value once prices
exist")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.console.test_browser import PHONE, _sign_in, browser, page
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon
from tests.support.prices import PriceFakes, price_fakes

__all__ = ["browser", "page"]

SOL = 1_000_000_000


@pytest.fixture(scope="module")
def fakes() -> Iterator[PriceFakes]:
    with price_fakes() as running:
        running.set("SOL", "100")  # USDC has no quote on any source: no USD price
        yield running


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, fakes: PriceFakes) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("usd-overview") / "data"
    config = {"security": FAST_SECURITY, "prices": fakes.config()}
    with running_daemon(data_dir, config=config) as running:
        yield running


def test_the_overview_shows_each_holding_and_each_wallet_in_dollars(daemon: Daemon, page: Page):
    wallet = daemon.create_wallet("treasury")
    for body in ({"amount": str(3 * SOL // 2)}, {"amount": "12500000", "token": "USDC"}):
        answer = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=body)
        assert answer.status_code == 201, answer.text
    daemon.create_wallet("spare")

    _sign_in(page, daemon)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="treasury", exact=True))
    holdings = row.locator("ul.holdings li.holding")
    expect(holdings.filter(has_text="1.5 SOL")).to_contain_text("≈ $150.00")
    usdc = holdings.filter(has_text="12.5 USDC")
    expect(usdc).to_contain_text("no USD price")
    expect(usdc).not_to_contain_text("$")
    expect(usdc.locator(".no-price")).to_have_attribute("title", "no price for USDC: " + _why())
    expect(row.locator(".worth-total")).to_contain_text(
        "Total ≈ $150.00 not counting 12.5 USDC (no USD price)"
    )
    expect(page.locator(".worth-all")).to_contain_text("All wallets hold ≈ $150.00")
    spare = page.get_by_role("row").filter(has=page.get_by_role("link", name="spare", exact=True))
    expect(spare).to_contain_text("0 SOL")
    expect(spare).not_to_contain_text("$")  # nothing held: no value, and no made-up $0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _why() -> str:
    return (
        "pyth: HTTP 404; coingecko: no such coin in the answer; jupiter: no such mint in the answer"
    )


def test_an_approval_shows_the_amount_in_dollars_at_current_prices(daemon: Daemon, page: Page):
    wallet = daemon.create_wallet("payer")
    answer = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(SOL)})
    assert answer.status_code == 201, answer.text
    policy = {"instantMax": "0", "delayMax": "0"}  # every SOL send waits for the owner
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    session = daemon.create_session(wallet["id"], label="shopper")
    with daemon.client(headers={"Authorization": f"Bearer {session['token']}"}) as http:
        held = http.post(
            "/v1/transactions/send",
            json={"to": wallet["address"], "amount": str(SOL // 4), "memo": "lunch"},
        )
    assert held.status_code == 202 and held.json()["status"] == "PENDING_APPROVAL", held.text
    _sign_in(page, daemon)
    page.get_by_role("link", name="Approvals").first.click()
    row = page.get_by_role("row").filter(has_text="lunch")
    expect(row).to_contain_text("0.25 SOL ≈ $25.00 now")
    row.get_by_role("link", name="payer").click()
    expect(page.locator("dl.facts").first).to_contain_text("0.25 SOL ≈ $25.00 now")
