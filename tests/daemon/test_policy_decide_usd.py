"""``policy.decide`` with dollar rules, alone (no database, no clock): the stricter tier
wins, limits escalate, no price never lets a send through, session budgets refuse."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from waiaas_daemon.domain import policy
from waiaas_daemon.schemas.policy import Policy, UsdRules

TO = "11111111111111111111111111111111"
DOLLAR = 1_000_000


def decide(rules: Policy, usd: policy.Usd | None, constraints=None, **kw) -> policy.Decision:
    return policy.decide(rules, constraints, policy.Totals(), to=TO, amount=1, now=0, usd=usd, **kw)


def test_no_price_sends_a_send_under_any_dollar_rule_to_the_owner():
    for rules in (
        Policy(usd=UsdRules(instant_max="1000")),
        Policy(usd=UsdRules(monthly_limit="1000")),
        Policy(instant_max="1000000000", usd=UsdRules(daily_limit="1000")),
    ):
        for usd in (None, policy.Usd(None, why="down")):
            assert decide(rules, usd) == policy.Decision("APPROVAL", reason="no price")
    # A session budget binds too, even without a policy.
    session = {"maxUsdPerDay": "5"}
    assert decide(Policy(), None, session) == policy.Decision("APPROVAL", reason="no price")


def test_without_dollar_rules_a_missing_price_changes_nothing():
    assert decide(Policy(), None) == policy.Decision("INSTANT")
    assert decide(Policy(usd=UsdRules(chat_approval_max="5")), None).tier == "INSTANT"


def test_the_stricter_tier_wins_both_ways():
    rules = Policy(instant_max="1", notify_max="10", usd=UsdRules(instant_max="5"))
    # amount 1 is INSTANT by the token's ceilings, $6 is above the dollar instantMax.
    assert decide(rules, policy.Usd(6 * DOLLAR)).tier == "APPROVAL"
    assert decide(rules, policy.Usd(4 * DOLLAR)).tier == "INSTANT"
    tight = Policy(instant_max="0", notify_max="1", usd=UsdRules(instant_max="5"))
    assert decide(tight, policy.Usd(DOLLAR)).tier == "NOTIFY"


def test_session_budgets_refuse_with_what_is_left():
    session = {"maxUsdPerTx": "10", "maxUsdPerDay": "20", "maxUsdTotal": "50"}
    over_tx = decide(Policy(), policy.Usd(10 * DOLLAR + 1), session)
    assert over_tx.error is not None and "maxUsdPerTx ($10)" in over_tx.error.message
    over_day = decide(Policy(), policy.Usd(6 * DOLLAR, session_daily=15 * DOLLAR), session)
    assert over_day.error is not None and over_day.error.code == "CONSTRAINT_VIOLATED"
    assert "maxUsdPerDay leaves for the last 24 hours ($5.00)" in over_day.error.message
    over_life = decide(Policy(), policy.Usd(DOLLAR, session_total=50 * DOLLAR), session)
    assert over_life.error is not None and "maxUsdTotal" in over_life.error.message
    fits = decide(
        Policy(),
        policy.Usd(5 * DOLLAR, session_daily=15 * DOLLAR, session_total=45 * DOLLAR),
        session,
    )
    assert fits == policy.Decision("INSTANT")


def test_a_session_limited_to_tokens_and_networks_refuses_the_rest():
    native = decide(Policy(), None, {"allowNative": False})
    assert native.error is not None and "allowNative" in native.error.message
    token = decide(Policy(), None, {"allowNative": False}, token=TO)
    assert token == policy.Decision("INSTANT")
    elsewhere = decide(Policy(), None, {"allowedNetworks": ["base"]}, network="mainnet")
    assert elsewhere.error is not None and "allowedNetworks" in elsewhere.error.message


@given(
    value=st.integers(0, 10**15),
    daily=st.integers(0, 10**15),
    monthly=st.integers(0, 10**15),
    day_limit=st.integers(0, 10**9),
    month_limit=st.integers(0, 10**9),
    ceiling=st.integers(0, 10**9),
)
def test_no_send_passes_a_dollar_limit_or_ceiling_without_the_owner(
    value, daily, monthly, day_limit, month_limit, ceiling
):
    rules = Policy(
        usd=UsdRules(
            delay_max=policy.dollars(ceiling),
            daily_limit=policy.dollars(day_limit),
            monthly_limit=policy.dollars(max(day_limit, month_limit)),
        )
    )
    decision = decide(rules, policy.Usd(value, daily=daily, monthly=monthly))
    if decision.tier != "APPROVAL":
        assert daily + value <= day_limit
        assert monthly + value <= max(day_limit, month_limit)
        assert value <= ceiling
