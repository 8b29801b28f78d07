"""Real clicks in headless Chromium (Debian's package, driven by Playwright) on a real daemon.

Chromium's own form posts under ``Referrer-Policy: no-referrer`` carry
``Origin: null`` and ``Sec-Fetch-Site: same-origin``: these tests prove the
console accepts exactly what a real browser sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    """One real daemon for the module: each test has its own wallets and browser context."""
    data_dir = tmp_path_factory.mktemp("console") / "data"
    with running_daemon(data_dir, config={"security": FAST_SECURITY}) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    problems: list[str] = []
    # A CSP violation (an inline style htmx injected, say) shows as a console error.
    page.on("console", lambda m: _keep_errors(m, problems))
    page.on("pageerror", lambda e: problems.append(str(e)))
    yield page
    context.close()
    assert problems == []


# A wrong password is answered 401, the lockout 429, a wrong policy form 400 and a policy
# form over a changed policy 409, on purpose; Chromium logs each.
EXPECTED = re.compile(r"Failed to load resource: .* status of (400|401|409|429)\b")


def _keep_errors(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error" and not EXPECTED.match(message.text):
        problems.append(message.text)


def _sign_in(page: Page, daemon: Daemon, password: str | None = None) -> None:
    page.goto(daemon.base_url + "/console")
    page.get_by_label("Master password").fill(password or daemon.password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_shows_the_wallets_with_their_balance(daemon, page):
    wallet = daemon.create_wallet("treasury")
    daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "2500000000"})
    _sign_in(page, daemon)
    expect(page.get_by_role("heading", name="Wallets")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="treasury")
    expect(row).to_contain_text("ACTIVE")
    expect(row).to_contain_text("2.5")


def test_a_wrong_password_says_so_and_the_right_one_then_signs_in(daemon, page):
    _sign_in(page, daemon, "not the password")
    expect(page.get_by_role("alert")).to_have_text("The master password is wrong.")
    expect(page.get_by_label("Master password")).to_have_value("")
    _sign_in(page, daemon)
    expect(page.get_by_role("heading", name="Wallets")).to_be_visible()


def test_wrong_passwords_up_to_the_limit_show_the_lockout_message(tmp_path, page):
    config = {"security": {**FAST_SECURITY, "master_lockout_attempts": 3}}
    with running_daemon(tmp_path / "data", config=config) as daemon:
        for _ in range(3):
            _sign_in(page, daemon, "not the password")
        _sign_in(page, daemon)
        expect(page.get_by_role("alert")).to_contain_text("Too many wrong master passwords")
        expect(page.get_by_role("alert")).to_contain_text(re.compile(r"Try again in \d+ seconds"))
        assert daemon.api("GET", "/v1/wallets").status_code == 429


def test_revoking_a_session_in_the_console_makes_the_api_refuse_its_token(daemon, page):
    wallet = daemon.create_wallet("agent wallet")
    keep = daemon.create_session(wallet["id"], label="keep")
    doomed = daemon.create_session(wallet["id"], label="doomed")
    _sign_in(page, daemon)
    page.get_by_role("link", name="agent wallet", exact=True).click()
    expect(page.get_by_text(wallet["address"])).to_be_visible()
    row = page.get_by_role("row").filter(has_text=doomed["id"])
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row").filter(has_text=doomed["id"])).to_contain_text("REVOKED")
    with httpx.Client(base_url=daemon.base_url) as http:
        refused = http.get("/v1/wallet/address", headers=_bearer(doomed))
        kept = http.get("/v1/wallet/address", headers=_bearer(keep))
    assert refused.status_code == 401
    assert refused.json()["code"] == "SESSION_REVOKED"
    assert kept.status_code == 200


def _bearer(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def test_sign_out_returns_to_sign_in_and_the_pages_stay_closed(daemon, page):
    _sign_in(page, daemon)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(daemon.base_url + "/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_session_cookie_is_httponly_and_strict_in_the_browser(daemon, page):
    _sign_in(page, daemon)
    expect(page.get_by_role("heading", name="Wallets")).to_be_visible()
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert page.evaluate("document.cookie") == ""


def test_pages_are_styled_by_the_stylesheet_and_fit_a_phone_width(daemon, page):
    wallet = daemon.create_wallet("phone")
    daemon.create_session(wallet["id"], label="a rather long label for a phone")
    _sign_in(page, daemon)
    header = page.locator("header")
    # The colour comes from console.css; an inline style would have been blocked.
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(29, 35, 48)"
    assert page.evaluate("typeof htmx") == "object"
    page.get_by_role("link", name="phone", exact=True).click()
    expect(page.get_by_role("button", name="Revoke")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_wallet_page_shows_its_tokens_in_their_own_units(daemon, page):
    wallet = daemon.create_wallet("stablecoins")
    minted = daemon.api(
        "POST",
        f"/v1/wallets/{wallet['id']}/airdrop",
        json={"amount": "12500000", "token": "USDC"},
    )
    assert minted.status_code == 201, minted.text
    _sign_in(page, daemon)
    page.get_by_role("link", name="stablecoins").click()
    # In the assets, and the airdrop in the transactions in the token's units too.
    expect(page.get_by_role("listitem").get_by_text("12.5 USDC")).to_be_visible()
    expect(page.get_by_role("cell", name="12.5 USDC")).to_be_visible()
