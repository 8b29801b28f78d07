"""The owner's rules in dollars, through the daemon (in-process, injected clock) and real
loopback Pyth/CoinGecko/Jupiter servers: limits over SOL and tokens together, the
stricter tier wins, a price that moves between two sends, no price holds the send for
the owner, values recorded on the record and in the audit log, nothing fetched
without a dollar rule."""

from __future__ import annotations

import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy, transaction
from waiaas_core.config import Settings

pytestmark = pytest.mark.anyio

USDC = 1_000_000


@pytest.fixture
def settings(fakes) -> Settings:
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        pyth_url=fakes.pyth.url,
        coingecko_url=fakes.coingecko.url,
        jupiter_url=fakes.jupiter.url,
    )


@pytest.fixture
def priced(harness, fakes):
    """The harness with the price servers dating their prices on its clock."""
    fakes.clock = harness.clock
    return harness


async def usdc_funded(harness, wallet, amount=1000 * USDC):
    response = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop",
        json={"amount": str(amount), "token": "USDC"},
        headers=MASTER,
    )
    assert response.status_code == 201, response.text


async def audit(harness, action):
    response = await harness.http.get("/v1/audit", params={"action": action}, headers=MASTER)
    return response.json()["items"]


async def test_a_usd_daily_limit_counts_sol_and_usdc_together(priced):
    wallet, headers, _ = await funded(priced, lamports=10 * SOL)
    await usdc_funded(priced, wallet)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"dailyLimit": "300"})
    first = await send(priced, headers, to, 2 * SOL)  # $200
    assert first.status_code == 201, first.text
    assert first.json()["usd"]["value"] == "200"
    second = await send(priced, headers, to, 100 * USDC, token="USDC")  # $100: exactly the limit
    assert second.status_code == 201 and second.json()["tier"] == "INSTANT", second.text
    third = await send(priced, headers, to, 1, token="USDC")  # one micro-dollar over
    assert third.status_code == 202, third.text
    body = third.json()
    assert (body["status"], body["tierReason"]) == ("PENDING_APPROVAL", "usd.dailyLimit")
    # A day later the window has moved on.
    priced.clock.advance(86_401)
    fresh = await priced.session(wallet["id"])
    later = await send(priced, {"Authorization": f"Bearer {fresh['token']}"}, to, 1 * SOL)
    assert later.status_code == 201, later.text


async def test_the_stricter_of_token_and_dollar_tiers_wins(priced):
    wallet, headers, _ = await funded(priced)
    await usdc_funded(priced, wallet)
    to = await recipient(priced)
    mint = (await priced.http.get("/v1/tokens?network=local", headers=MASTER)).json()["items"]
    usdc = next(t["mint"] for t in mint if t["symbol"] == "USDC")
    # Per token: 5 USDC instant. In dollars: $2 instant, $10 delayed.
    await set_policy(
        priced,
        wallet["id"],
        tokens={usdc: {"instantMax": str(5 * USDC)}},
        usd={"instantMax": "2", "delayMax": "10"},
    )
    cheap = await send(priced, headers, to, 2 * USDC, token="USDC")
    assert cheap.json()["tier"] == "INSTANT", cheap.text
    dollar_bound = await send(priced, headers, to, 3 * USDC, token="USDC")
    assert (dollar_bound.json()["tier"], dollar_bound.json()["tierReason"]) == (
        "DELAY",
        "usd: worth $3.00",
    )
    token_bound = await send(priced, headers, to, 6 * USDC, token="USDC")  # $6: DELAY by usd
    assert token_bound.json()["tier"] == "APPROVAL", token_bound.text  # above instantMax only


async def test_a_price_that_moves_between_two_sends_values_each_at_its_own(priced, fakes):
    wallet, headers, _ = await funded(priced)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"instantMax": "150", "dailyLimit": "1000"})
    first = await send(priced, headers, to, 1 * SOL)
    assert first.json()["tier"] == "INSTANT" and first.json()["usd"]["value"] == "100"
    fakes.set("SOL", "200")
    priced.clock.advance(61)  # the cached SOL price is too old now
    second = await send(priced, headers, to, 1 * SOL)
    assert second.status_code == 202, second.text
    assert second.json()["usd"]["value"] == "200"
    assert second.json()["tierReason"] == "usd: worth $200.00"
    record = await transaction(priced, headers, second.json()["id"])
    assert record["usd"]["price"] == "200" and record["usd"]["source"] == "pyth"
    assert record["usd"]["pricedAt"] == int(priced.clock.now)


async def test_every_source_down_holds_the_send_for_the_owner_with_no_price(priced, fakes):
    wallet, headers, _ = await funded(priced)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"dailyLimit": "1000000"})
    for source in fakes.sources:
        source.down = True
    held = await send(priced, headers, to, 1000)  # a tiny send: still not let through
    assert held.status_code == 202, held.text
    body = held.json()
    assert (body["status"], body["tier"], body["tierReason"]) == (
        "PENDING_APPROVAL",
        "APPROVAL",
        "no price",
    )
    assert body["usd"]["error"].startswith("no price: no price for SOL: pyth: HTTP 503")
    pending = (await priced.http.get("/v1/pending", headers=MASTER)).json()["items"]
    assert [(p["id"], p["tierReason"]) for p in pending] == [(body["id"], "no price")]
    [entry] = await audit(priced, "send.pending")
    assert entry["details"]["tierReason"] == "no price"
    assert "coingecko: HTTP 503" in entry["details"]["usd"]["error"]


async def test_a_send_records_its_value_price_source_and_time_in_the_audit_log(priced, fakes):
    wallet, headers, _ = await funded(priced)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"monthlyLimit": "5000"})
    fakes.pyth.down = True  # the fallback's name is what is recorded
    sent = await send(priced, headers, to, SOL // 4)
    assert sent.status_code == 201, sent.text
    [entry] = [e for e in await audit(priced, "send.allowed") if e["transactionId"]]
    assert entry["details"]["usd"] == {
        "value": "25",
        "price": "100",
        "source": "coingecko",
        "pricedAt": int(priced.clock.now),
        "feed": "SOL",
    }


async def test_without_a_dollar_rule_nothing_is_priced_or_imported(priced, fakes):
    wallet, headers, _ = await funded(priced)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], instantMax=str(SOL))
    sent = await send(priced, headers, to, SOL // 2)
    assert sent.status_code == 201 and "usd" not in sent.json()
    assert fakes.total_hits == 0 and priced.state.prices is None


async def test_the_agent_sees_what_the_dollar_limits_leave(priced):
    wallet, headers, _ = await funded(priced)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"dailyLimit": "500", "monthlyLimit": "2000"})
    await send(priced, headers, to, SOL + SOL // 2)  # $150
    view = (await priced.http.get("/v1/wallet/policy", headers=headers)).json()
    assert view["policy"]["usd"] == {"dailyLimit": "500", "monthlyLimit": "2000"}
    assert view["remaining"]["usd"] == {
        "daily": "350.00",
        "monthly": "1850.00",
        "total": None,
        "perTx": None,
    }


@pytest.mark.parametrize(
    ("usd", "field"),
    [
        ({"instantMax": "1.2345678"}, "usd.instantMax"),
        ({"instantMax": "-1"}, "usd.instantMax"),
        ({"instantMax": "1e3"}, "usd.instantMax"),
        ({"instantMax": 5}, "usd.instantMax"),
        ({"instantMax": "10", "notifyMax": "9.99"}, "usd.notifyMax"),
        ({"dailyLimit": "100", "monthlyLimit": "50"}, "usd.monthlyLimit"),
        ({"weeklyLimit": "1"}, "usd.weeklyLimit"),
    ],
)
async def test_bad_dollar_rules_are_refused_naming_the_field(priced, usd, field):
    wallet = await priced.wallet()
    response = await priced.http.put(
        f"/v1/wallets/{wallet['id']}/policy", json={"usd": usd}, headers=MASTER
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "INVALID_REQUEST"
    assert field in response.json()["message"]


async def test_a_sessions_dollar_budget_is_validated_and_shows_what_is_left(priced):
    wallet, _, _ = await funded(priced)
    bad = await priced.http.post(
        "/v1/sessions",
        json={"walletId": wallet["id"], "constraints": {"maxUsdPerDay": "1.2345678"}},
        headers=MASTER,
    )
    assert bad.status_code == 400 and "constraints.maxUsdPerDay" in bad.json()["message"]
    network = await priced.http.post(
        "/v1/sessions",
        json={"walletId": wallet["id"], "constraints": {"allowedNetworks": ["Main Net"]}},
        headers=MASTER,
    )
    assert network.status_code == 400, network.text
    session = await priced.session(
        wallet["id"], constraints={"maxUsdPerDay": "150", "maxUsdTotal": "400"}
    )
    headers = {"Authorization": f"Bearer {session['token']}"}
    to = await recipient(priced)
    assert (await send(priced, headers, to, SOL)).status_code == 201  # $100
    over = await send(priced, headers, to, SOL)  # $100 more: over the day's $150
    assert over.status_code == 403 and "maxUsdPerDay" in over.json()["message"]
    own = (await priced.http.get("/v1/session", headers=headers)).json()
    assert own["budget"] == {"daily": "50.00", "monthly": None, "total": "300.00", "perTx": None}
    # Another session of the wallet has a budget of its own.
    other = await priced.session(wallet["id"], constraints={"maxUsdPerDay": "150"})
    other_headers = {"Authorization": f"Bearer {other['token']}"}
    assert (await send(priced, other_headers, to, SOL)).status_code == 201


async def test_a_price_being_fetched_never_holds_the_wallets_other_sends(priced, fakes):
    import threading

    import anyio

    wallet, headers, _ = await funded(priced)
    await usdc_funded(priced, wallet)
    to = await recipient(priced)
    await set_policy(priced, wallet["id"], usd={"dailyLimit": "100000"})
    assert (await send(priced, headers, to, SOL // 100)).status_code == 201  # SOL now cached
    release = fakes.pyth.hold = threading.Event()
    answers: list = []

    async def usdc_send() -> None:
        answers.append(await send(priced, headers, to, 5 * USDC, token="USDC"))

    try:
        async with anyio.create_task_group() as group:
            before = fakes.pyth.hits
            group.start_soon(usdc_send)
            with anyio.fail_after(10):
                while fakes.pyth.hits == before:  # the USDC price is being fetched, held
                    await anyio.sleep(0.01)
                # Meanwhile a SOL send of the same wallet is decided and sent.
                sol = await send(priced, headers, to, SOL // 100)
            assert sol.status_code == 201, sol.text
            assert answers == []  # the USDC send still waits for its price
            release.set()
    finally:
        release.set()
    assert answers[0].status_code == 201 and answers[0].json()["usd"]["value"] == "5"
