"""The owner's pages in-process: overview, agents, activity, a send's story, approvals, audit."""

from __future__ import annotations

import html
import re

import pytest

from tests.console.conftest import MASTER
from tests.daemon.policy_support import SOL, funded, send, set_policy

pytestmark = pytest.mark.anyio


def text_of(page: str) -> str:
    """The page's visible words, tags gone and spaces folded, as a reader sees them."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


async def _usdc(harness) -> str:
    [usdc] = [t for t in await harness.state.db.list_tokens("local") if t.symbol == "USDC"]
    return usdc.mint


async def test_the_overview_shows_every_asset_and_spending_against_the_limits(harness, owner):
    wallet, headers, _ = await funded(harness, "main", lamports=3 * SOL)
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop",
        json={"amount": "12500000", "token": "USDC"},
        headers=MASTER,
    )
    savings, _, _ = await funded(harness, "savings", lamports=SOL)
    await set_policy(harness, wallet["id"], dailyLimit=str(2 * SOL), monthlyLimit=str(10 * SOL))
    assert (await send(harness, headers, savings["address"], SOL // 2)).status_code == 201
    page = await owner.http.get("/console/")
    words = text_of(page.text)
    assert "12.5 USDC" in words
    assert "SOL last 24 h: 0.5 of 2 SOL" in words
    assert "SOL last 30 days: 0.5 of 10 SOL" in words
    assert f'<meter min="0" max="{2 * SOL}" value="{SOL // 2}"' in page.text
    # the nav reaches every page
    for link in ("Overview", "Agents", "Activity", "Approvals", "Audit", "Notifications"):
        assert f">{link}</a>" in page.text


async def test_agents_lists_every_session_with_limits_left_and_revokes(harness, owner):
    _, headers, session = await funded(
        harness,
        "main",
        label="claude",
        constraints={"maxAmountPerTx": str(SOL), "maxAmountPerDay": str(2 * SOL)},
    )
    other, _, _ = await funded(harness, "other", label="cursor")
    assert (await send(harness, headers, other["address"], SOL // 2)).status_code == 201
    page = await owner.http.get("/console/agents")
    words = text_of(page.text)
    assert "claude" in words and "cursor" in words
    assert "at most 1 SOL a send" in words
    assert "2 SOL a day, 1.5 SOL left for the last 24 h" in words
    assert "0 of 30" in words  # renewals
    assert "never" in words  # cursor has not done anything yet
    token = await owner.csrf_token("/console/agents")
    answer = await owner.post(f"/console/agents/{session['id']}/revoke", {"csrf_token": token})
    assert answer.status_code == 303
    refused = await harness.http.get("/v1/wallet/address", headers=headers)
    assert refused.status_code == 401
    assert "claude" not in text_of((await owner.http.get("/console/agents")).text)
    assert "claude" in text_of((await owner.http.get("/console/agents?show=all")).text)


async def test_activity_charts_daily_spend_by_asset_with_its_numbers_and_filters(harness, owner):
    week = 7 * 86400
    _, headers, session = await funded(harness, "main", label="claude", expiresIn=week)
    _, other_headers, _ = await funded(harness, "other", label="cursor", expiresIn=week)
    to = (await funded(harness, "payee", lamports=SOL))[0]["address"]
    assert (await send(harness, headers, to, SOL // 4, memo="coffee")).status_code == 201
    harness.clock.advance(86400)
    assert (await send(harness, headers, to, SOL // 2)).status_code == 201
    assert (await send(harness, other_headers, to, SOL)).status_code == 201
    await owner.sign_in()  # a day passed: the console session ended
    page = await owner.http.get("/console/activity?days=7")
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "SOL: 1.75 SOL from" in words
    assert 'role="img" aria-label="Daily spend in SOL"' in page.text
    assert len(re.findall(r"<rect ", page.text)) == 2  # two days with spend
    # the numbers behind the chart, per day
    assert re.search(r"\d{4}-\d\d-\d\d 0\.25 \d{4}-\d\d-\d\d 1\.5", words)
    assert "main claude 2 0.75 SOL" in words and "other cursor 1 1 SOL" in words
    only = text_of((await owner.http.get(f"/console/activity?agent={session['id']}")).text)
    assert "SOL: 0.75 SOL" in only and "cursor 1 1 SOL" not in only
    assert "“coffee”" in only or '"coffee"' in only or "coffee" in only
    bad = await owner.http.get("/console/activity?days=5", headers={"Accept": "text/html"})
    assert bad.status_code == 400 and "days: must be one of 7, 30, 90" in bad.text


async def test_a_sends_page_tells_its_whole_story_with_the_rule(harness, owner):
    wallet, headers, _ = await funded(harness, "main", label="claude")
    savings, _, _ = await funded(harness, "savings", lamports=SOL)
    await set_policy(harness, wallet["id"], instantMax=str(SOL // 10), delayMax=str(SOL // 2))
    held = await send(harness, headers, savings["address"], SOL, memo="rent")
    assert held.status_code == 202, held.text
    tx_id = held.json()["id"]
    # a later policy change does not rewrite why this send waited
    await set_policy(harness, wallet["id"], instantMax=str(5 * SOL))
    listed = text_of((await owner.http.get("/console/approvals/list")).text)
    assert "claude" in listed and "your wallet savings" in listed and "rent" in listed
    assert "APPROVAL: above every ceiling (the highest: delayMax (0.5 SOL))" in listed
    token = await owner.csrf_token("/console/approvals")
    assert (
        await owner.post(f"/console/approvals/{tx_id}/approve", {"csrf_token": token})
    ).status_code == 303
    page = await owner.http.get(f"/console/transactions/{tx_id}")
    words = text_of(page.text)
    for fact in (
        "Asked by claude",
        "Amount 1 SOL",
        "your wallet savings",
        "rent",
        "Tier APPROVAL",
        "above every ceiling (the highest: delayMax (0.5 SOL))",
        "send.pending by agent claude · 1 SOL",
        "pending.approve by owner",
        "send.confirmed",
        "CONFIRMED",
    ):
        assert fact in words, fact
    assert "explorer.solana.com" not in page.text  # the local chain has no public explorer


def test_explorer_links_name_the_public_cluster():
    from waiaas_daemon.serving.console.story import explorer_url

    assert explorer_url("devnet", "sig") == "https://explorer.solana.com/tx/sig?cluster=devnet"
    assert explorer_url("mainnet", "sig") == "https://explorer.solana.com/tx/sig"
    assert explorer_url("local", "sig") is None and explorer_url("devnet", None) is None


async def test_the_audit_log_reads_as_sentences_with_the_raw_entry_beside(harness, owner):
    wallet, headers, _ = await funded(harness, "main", label="claude")
    await set_policy(harness, wallet["id"], instantMax="0")
    to = (await funded(harness, "payee", lamports=SOL))[0]["address"]
    assert (await send(harness, headers, to, SOL // 4, memo="for the API")).status_code == 202
    page = await owner.http.get("/console/audit")
    words = text_of(page.text)
    assert "Chain intact" in words
    assert re.search(
        r"agent claude send\.pending main the send's story · 0\.25 SOL · "
        r"to \w+ · memo “for the API”",
        words,
    )
    assert "<summary>raw entry</summary>" in page.text
    assert "&#34;sessionLabel&#34;: &#34;claude&#34;" in page.text
