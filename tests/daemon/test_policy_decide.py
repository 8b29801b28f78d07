"""policy.decide alone: the SPEC 12 order, tiers, escalation, and properties over any input."""

from hypothesis import given
from hypothesis import strategies as st

from waiaas_daemon.domain.policy import TIERS, Totals, decide, tier_of
from waiaas_daemon.schemas.policy import Policy

NOW = 1_800_000_000
TO = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
OTHER = "11111111111111111111111111111111"
U64 = 2**64 - 1


def _decide(policy=None, constraints=None, totals=None, amount=1, to=TO):
    return decide(
        policy or Policy(), constraints, totals or Totals(), to=to, amount=amount, now=NOW
    )


def test_no_policy_is_instant():
    assert _decide(amount=U64).tier == "INSTANT"


def test_the_first_ceiling_at_least_the_amount_chooses_the_tier():
    policy = Policy(instant_max="10", notify_max="100", delay_max="1000")
    assert [tier_of(policy, a) for a in (1, 10, 11, 100, 101, 1000, 1001)] == [
        "INSTANT",
        "INSTANT",
        "NOTIFY",
        "NOTIFY",
        "DELAY",
        "DELAY",
        "APPROVAL",
    ]


def test_an_absent_ceiling_is_skipped():
    policy = Policy(instant_max="10", delay_max="1000")
    assert [tier_of(policy, a) for a in (10, 11, 1001)] == ["INSTANT", "DELAY", "APPROVAL"]


def test_daily_and_monthly_limits_escalate_to_approval():
    day = Policy(daily_limit="100")
    assert _decide(day, totals=Totals(daily=50), amount=50).tier == "INSTANT"
    assert _decide(day, totals=Totals(daily=50), amount=51).tier == "APPROVAL"
    month = Policy(monthly_limit="100", instant_max="1000")
    assert _decide(month, totals=Totals(monthly=100), amount=1).tier == "APPROVAL"


def test_constraints_answer_before_the_policy():
    policy = Policy(allowed_recipients=[OTHER])
    decision = _decide(policy, {"maxAmountPerTx": "5"}, amount=6)
    assert decision.error is not None and decision.error.code == "CONSTRAINT_VIOLATED"


def test_allowed_recipients_denial_names_the_rule():
    decision = _decide(Policy(allowed_recipients=[OTHER]))
    assert decision.error is not None
    assert (decision.error.code, decision.error.message.split(":")[0]) == (
        "POLICY_DENIED",
        "allowedRecipients",
    )


def test_allowed_tokens_binds_token_sends_only():
    policy = Policy(allowed_tokens=[OTHER])
    assert _decide(policy).tier == "INSTANT"
    token = decide(policy, None, Totals(), to=TO, amount=1, now=NOW, token=TO)
    assert token.error is not None and token.error.message.startswith("allowedTokens")


def test_rate_limit_retries_when_the_oldest_send_leaves_the_hour():
    totals = Totals(sends_this_hour=3, oldest_this_hour=NOW - 3000)
    decision = _decide(Policy(max_sends_per_hour=3), totals=totals)
    assert decision.error is not None
    assert (decision.error.code, decision.error.retry_after) == ("RATE_LIMITED", 600)
    assert _decide(Policy(max_sends_per_hour=4), totals=totals).tier == "INSTANT"


amounts = st.integers(min_value=1, max_value=U64)
limits = st.none() | st.integers(min_value=0, max_value=U64)


@st.composite
def policies(draw):
    ceilings = sorted(draw(st.lists(st.integers(0, U64), min_size=3, max_size=3)))
    keep = draw(st.lists(st.booleans(), min_size=3, max_size=3))
    instant, notify, delay = (str(c) if k else None for c, k in zip(ceilings, keep, strict=True))
    daily, monthly = draw(limits), draw(limits)
    return Policy(
        instant_max=instant,
        notify_max=notify,
        delay_max=delay,
        daily_limit=None if daily is None else str(daily),
        monthly_limit=None if monthly is None else str(monthly),
    )


@st.composite
def constraint_sets(draw):
    per_tx, per_day = draw(limits), draw(limits)
    constraints = {}
    if per_tx is not None:
        constraints["maxAmountPerTx"] = str(per_tx)
    if per_day is not None:
        constraints["maxAmountPerDay"] = str(per_day)
    return constraints


totals_strategy = st.builds(
    Totals, daily=st.integers(0, U64), monthly=st.integers(0, U64), sends_this_hour=st.just(0)
)


@given(policies(), constraint_sets(), totals_strategy, amounts)
def test_no_input_sends_past_a_limit_without_the_owner(policy, constraints, totals, amount):
    decision = decide(policy, constraints, totals, to=TO, amount=amount, now=NOW)
    if decision.error is not None or decision.tier == "APPROVAL":
        return
    if "maxAmountPerTx" in constraints:
        assert amount <= int(constraints["maxAmountPerTx"])
    if "maxAmountPerDay" in constraints:
        assert totals.daily + amount <= int(constraints["maxAmountPerDay"])
    if policy.daily_limit is not None:
        assert totals.daily + amount <= int(policy.daily_limit)
    if policy.monthly_limit is not None:
        assert totals.monthly + amount <= int(policy.monthly_limit)
    ceiling = {"INSTANT": policy.instant_max, "NOTIFY": policy.notify_max}.get(decision.tier)
    if decision.tier == "DELAY":
        ceiling = policy.delay_max
    if ceiling is not None:
        assert amount <= int(ceiling)


@given(policies(), totals_strategy, amounts, amounts)
def test_the_tier_never_falls_as_the_amount_grows(policy, totals, first, second):
    small, large = sorted((first, second))
    low = decide(policy, None, totals, to=TO, amount=small, now=NOW).tier
    high = decide(policy, None, totals, to=TO, amount=large, now=NOW).tier
    assert TIERS.index(low) <= TIERS.index(high)


@given(st.integers(0, 50), st.integers(1, 50))
def test_rate_limit_denies_exactly_at_the_limit(count, limit):
    totals = Totals(sends_this_hour=count, oldest_this_hour=NOW - 10 if count else None)
    decision = _decide(Policy(max_sends_per_hour=limit), totals=totals)
    assert (decision.error is not None) == (count >= limit)
