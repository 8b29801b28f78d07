"""The overview values each holding and each wallet in dollars, with real loopback price
servers (Pyth Hermes, CoinGecko, Jupiter wire formats): "no USD price" where none is known,
never a made-up $0, and a price source that is away slows at most one page load."""

from __future__ import annotations

import threading
import time

import pytest

from tests.console.conftest import MASTER
from tests.console.test_owner_pages import text_of
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy
from waiaas_core.config import Settings
from waiaas_daemon.serving.console import reads

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(fakes) -> Settings:
    return Settings(min_session_ttl=10, session_ttl=3600, price_max_age=60, **fakes.config())


async def _holder(harness, name: str = "main") -> dict:
    wallet, _, _ = await funded(harness, name, lamports=5 * SOL // 2)
    usdc = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop",
        json={"amount": "12500000", "token": "USDC"},
        headers=MASTER,
    )
    assert usdc.status_code == 201, usdc.text
    return wallet


def _row(page: str, name: str) -> str:
    """The overview's table row of one wallet, as text."""
    start = page.index(f">{name}</a>")
    return text_of(page[start : page.index("</tr>", start)])


async def test_each_holding_and_each_wallet_is_valued_and_the_price_is_cached(
    harness, fakes, owner
):
    fakes.clock = harness.clock
    wallet = await _holder(harness)
    await harness.wallet("empty")
    page = (await owner.http.get("/console/")).text
    main = _row(page, "main")
    assert "2.5 SOL ≈ $250.00" in main
    assert "12.5 USDC ≈ $12.50" in main
    assert "Total ≈ $262.50" in main
    assert "All wallets hold ≈ $262.50 , at current prices." in text_of(page)
    empty = _row(page, "empty")
    assert "0 SOL" in empty and "$" not in empty and "no USD price" not in empty
    asked = fakes.total_hits
    assert asked >= 2  # SOL and USDC, each from the first source
    again = (await owner.http.get("/console/")).text
    assert "Total ≈ $262.50" in _row(again, "main")
    assert fakes.total_hits == asked  # cached while fresh: no request at all
    one = text_of((await owner.http.get(f"/console/wallets/{wallet['id']}")).text)
    assert "Value ≈ $262.50 at current prices" in one and "12.5 USDC" in one

    fakes.set("SOL", "120")
    harness.clock.advance(61)  # past max_age: asked anew, at the new price
    moved = (await owner.http.get("/console/")).text
    assert "2.5 SOL ≈ $300.00" in _row(moved, "main")
    assert "Total ≈ $312.50" in _row(moved, "main")


async def test_without_a_price_the_page_says_so_and_adds_up_only_what_is_priced(
    harness, fakes, owner
):
    fakes.clock = harness.clock
    for source in fakes.sources:
        del source.quotes["SOL"]  # Hermes 404, CoinGecko {}, Jupiter leaves it out
    wallet = await _holder(harness)
    page = (await owner.http.get("/console/")).text
    main = _row(page, "main")
    assert "2.5 SOL · no USD price" in main
    assert "$0" not in main and "$250" not in main
    assert "12.5 USDC ≈ $12.50" in main
    assert "Total ≈ $12.50 not counting 2.5 SOL (no USD price)" in main
    one = text_of((await owner.http.get(f"/console/wallets/{wallet['id']}")).text)
    assert "Value ≈ $12.50 at current prices not counting 2.5 SOL (no USD price)" in one
    assert "(and 1 holding without a USD price)" in text_of(page)
    assert 'title="no price for SOL: pyth: HTTP 404' in page  # the reason, one hover away

    for source in fakes.sources:
        source.down = True
    harness.clock.advance(61)
    down = (await owner.http.get("/console/")).text
    assert "Total: no USD price" in _row(down, "main")
    assert "$" not in _row(down, "main")
    assert "All wallets hold" not in text_of(down)
    asked = fakes.total_hits
    still = (await owner.http.get("/console/")).text
    assert "Total: no USD price" in _row(still, "main")
    assert fakes.total_hits == asked  # a source that failed is not asked again at once

    for source in fakes.sources:
        source.down = False
    fakes.set("SOL", "100")
    harness.clock.advance(61)
    back = (await owner.http.get("/console/")).text
    assert "Total ≈ $262.50" in _row(back, "main")


async def test_a_price_source_that_does_not_answer_holds_the_page_only_briefly(
    harness, fakes, owner, monkeypatch
):
    fakes.clock = harness.clock
    monkeypatch.setattr(reads, "PRICE_SECONDS", 0.2)
    await _holder(harness)
    hold = threading.Event()
    for source in fakes.sources:
        source.hold = hold  # every answer waits (up to 10 s) for the test
    try:
        started = time.monotonic()
        page = (await owner.http.get("/console/")).text
        first = time.monotonic() - started
        main = _row(page, "main")
        assert "2.5 SOL · no USD price" in main and "12.5 USDC · no USD price" in main
        assert "did not answer within 0.2 s" in page
        assert first < 3  # the bound, not the price service's 3 s per source
        asked = fakes.total_hits
        started = time.monotonic()
        again = (await owner.http.get("/console/")).text
        assert "2.5 SOL · no USD price" in _row(again, "main")
        assert fakes.total_hits == asked  # not asked again while the memo lasts
        assert time.monotonic() - started < first
    finally:
        hold.set()


async def test_a_waiting_send_shows_what_it_is_worth_now_when_it_was_not_valued(
    harness, fakes, owner
):
    fakes.clock = harness.clock
    wallet = await _holder(harness)
    await set_policy(harness, wallet["id"], instantMax="0", delayMax=str(SOL), delaySeconds=900)
    session = await harness.session(wallet["id"], label="shopper")
    headers = {"Authorization": f"Bearer {session['token']}"}
    to = await recipient(harness)
    held = await send(harness, headers, to, SOL // 2, memo="no dollar rule")
    assert held.status_code == 202, held.text
    assert held.json()["status"] == "QUEUED"
    listed = text_of((await owner.http.get("/console/approvals/list")).text)
    assert "0.5 SOL ≈ $50.00 now" in listed  # at today's price: no rule valued it
    story = text_of((await owner.http.get(f"/console/transactions/{held.json()['id']}")).text)
    assert "Amount 0.5 SOL ≈ $50.00 now" in story

    for source in fakes.sources:
        del source.quotes["SOL"]
    harness.clock.advance(61)
    listed = text_of((await owner.http.get("/console/approvals/list")).text)
    assert "0.5 SOL · no USD price" in listed and "$" not in listed
