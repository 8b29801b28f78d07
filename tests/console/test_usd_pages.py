"""Dollars on the owner's pages, with real loopback price servers: the send's value, the
rule in dollars that held it, spending against the dollar limit, the form's dollar rules."""

from __future__ import annotations

import pytest

from tests.console.conftest import MASTER
from tests.console.test_owner_pages import text_of
from tests.console.test_policy_form import _form
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy
from waiaas_core.config import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(fakes) -> Settings:
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        pyth_url=fakes.pyth.url,
        coingecko_url=fakes.coingecko.url,
        jupiter_url=fakes.jupiter.url,
    )


async def test_dollar_values_limits_and_rules_show_where_the_money_goes(harness, fakes, owner):
    fakes.clock = harness.clock
    wallet, headers, _ = await funded(harness, "main", label="claude")
    await set_policy(harness, wallet["id"], usd={"dailyLimit": "100", "instantMax": "20"})
    to = await recipient(harness)
    assert (await send(harness, headers, to, SOL // 10)).status_code == 201  # $10
    held = await send(harness, headers, to, SOL // 2)  # $50: above instantMax in dollars
    assert held.status_code == 202, held.text
    overview = text_of((await owner.http.get("/console/")).text)
    assert "USD last 24 h: 60 of 100 USD" in overview  # the held one counts, as limits do
    listed = text_of((await owner.http.get("/console/approvals/list")).text)
    assert "0.5 SOL ≈ $50" in listed
    assert "APPROVAL: usd: worth $50.00 (a rule in dollars)" in listed
    story = text_of((await owner.http.get(f"/console/transactions/{held.json()['id']}")).text)
    assert "Value $50 at 100" in story

    fields = await _form(owner, wallet["id"])
    assert (fields["usd.dailyLimit"], fields["usd.instantMax"]) == ("100", "20")
    fields["usd.monthlyLimit"] = "$1000.50"
    saved = await owner.post(f"/console/wallets/{wallet['id']}/policy", fields)
    assert saved.status_code == 303, saved.text
    policy = await harness.http.get(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert policy.json()["policy"]["usd"] == {
        "instantMax": "20",
        "dailyLimit": "100",
        "monthlyLimit": "1000.5",  # dollars, as the form shows them again
    }
