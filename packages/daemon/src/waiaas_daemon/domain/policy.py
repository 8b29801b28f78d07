"""The wallet policy of SPEC 12 and the pure send decision made from it.

``decide`` takes the policy, the session's constraints, the wallet's totals
and the request, and returns what to do; it reads no database and no clock, so
the caller gathers the inputs under the wallet's send lock and acts on the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import msgspec

from waiaas_core.amounts import format_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.schemas.policy import (
    Policy,
    Remaining,
    TokenRemaining,
    UsdRemaining,
    UsdRules,
    usd_micros,
)

T = TypeVar("T")

Tier = Literal["INSTANT", "NOTIFY", "DELAY", "APPROVAL"]
TIERS: tuple[Tier, ...] = ("INSTANT", "NOTIFY", "DELAY", "APPROVAL")
HOUR = 3600
DEFAULT_DELAY_SECONDS = 900
DEFAULT_APPROVAL_TIMEOUT = 3600
DEFAULT_AUTO_SUSPEND = 10

_decoder = msgspec.json.Decoder(Policy)
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Totals:
    """The wallet's counted transfers of this asset: 24 h, 30 days, and sends in the hour."""

    daily: int = 0
    monthly: int = 0
    sends_this_hour: int = 0
    oldest_this_hour: int | None = None


@dataclass(frozen=True)
class Usd:
    """The send's value and the dollar totals it is checked against, in micro-dollars.

    ``value`` None: no usable price (``why`` says why); the totals are the wallet's
    (24 h, 30 days) and the session's own (24 h, its whole life).
    """

    value: int | None
    why: str | None = None
    daily: int = 0
    monthly: int = 0
    session_daily: int = 0
    session_total: int = 0


NO_PRICE = "no price"
SESSION_USD = ("maxUsdPerTx", "maxUsdPerDay", "maxUsdTotal")


@dataclass(frozen=True)
class Decision:
    """A tier to send at, or a denial (``error``) that records nothing.

    ``reason`` says why a dollar rule raised the tier (``no price``, ``usd.dailyLimit``).
    """

    tier: Tier | None
    error: WaiaasError | None = None
    reason: str | None = None

    @property
    def denied(self) -> bool:
        return self.error is not None


@functools.lru_cache(maxsize=1024)
def load(document: str | None) -> Policy:
    """A stored policy document; an absent one is the empty policy.

    Cached by the text itself: decoding validates every address against its
    pattern (about half a millisecond for a full policy), and a stored document
    never changes, only gets replaced. Callers must not mutate the result.
    """
    return _decoder.decode(document) if document else Policy()


def dump(policy: Policy) -> str:
    return _encoder.encode(policy).decode()


def as_dict(policy: Policy) -> dict[str, Any]:
    return msgspec.to_builtins(policy)


def usd_binds(policy: Policy, constraints: dict[str, Any] | None) -> bool:
    """Does a dollar rule decide this send's tier or refuse it (so no price holds it)?"""
    session = constraints or {}
    return (policy.usd is not None and policy.usd.any()) or any(
        session.get(name) is not None for name in SESSION_USD
    )


def needs_usd(policy: Policy, constraints: dict[str, Any] | None) -> bool:
    """Must this send be valued: a dollar rule binds it, or the chat approval limit is in
    dollars (it is checked against the value recorded now)."""
    chat = policy.usd is not None and policy.usd.chat_approval_max is not None
    return chat or usd_binds(policy, constraints)


def decide(
    policy: Policy,
    constraints: dict[str, Any] | None,
    totals: Totals,
    *,
    to: str,
    amount: int,
    now: int,
    token: str | None = None,
    usd: Usd | None = None,
    network: str | None = None,
    home_network: str | None = None,
) -> Decision:
    """SPEC 12 steps 2-6, in order; the first denial answers.

    Dollar rules (the session's ``maxUsd*`` in step 2, the policy's ``usd`` in
    steps 5-6) only ever make the answer stricter; without a usable price
    (``usd`` None or its value None) a send they bind waits for the owner.
    ``network`` is where the send goes out, ``home_network`` the wallet's own: a
    send elsewhere needs the policy's ``allowedNetworks`` (step 3, with the other
    allow lists); when that list is set, every send's network must be in it.
    """
    session = constraints or {}
    for check in (_constraints, _allow_lists, _rate):
        error = check(policy, session, totals, to, amount, now, token)
        if error is None and check is _constraints:
            error = (
                _session_scope(session, token, network)
                or _session_usd(session, usd)
                or network_error(policy, network, home_network)
            )
        if error is not None:
            return Decision(None, error)
    tier = _escalate(policy, totals, amount, tier_of(policy, amount, token), token)
    if not usd_binds(policy, session):
        return Decision(tier)
    if usd is None or usd.value is None:
        return Decision("APPROVAL", reason=NO_PRICE)
    return _usd_tier(policy.usd or UsdRules(), usd, usd.value, tier)


def _usd_tier(rules: UsdRules, usd: Usd, value: int, tier: Tier) -> Decision:
    """Steps 5-6 in dollars: the stricter of the asset's tier and the dollar tier."""
    for name, limit, total in (
        ("usd.dailyLimit", rules.daily_limit, usd.daily),
        ("usd.monthlyLimit", rules.monthly_limit, usd.monthly),
    ):
        if limit is not None and total + value > usd_micros(limit):
            return Decision("APPROVAL", reason=name)
    ceilings = (rules.instant_max, rules.notify_max, rules.delay_max)
    if all(c is None for c in ceilings):
        return Decision(tier)
    by_usd: Tier = "APPROVAL"
    for candidate, ceiling in zip(TIERS, ceilings, strict=False):
        if ceiling is not None and value <= usd_micros(ceiling):
            by_usd = candidate
            break
    if TIERS.index(by_usd) > TIERS.index(tier):
        return Decision(by_usd, reason=f"usd: worth ${dollars(value)}")
    return Decision(tier)


def _session_scope(
    constraints: dict[str, Any], token: str | None, network: str | None
) -> WaiaasError | None:
    """Step 2: the networks and the native coin a session may use."""
    networks = constraints.get("allowedNetworks")
    if networks is not None and network is not None and network not in networks:
        return WaiaasError(
            "CONSTRAINT_VIOLATED", f"The network {network} is not in allowedNetworks."
        )
    if token is None and constraints.get("allowNative") is False:
        return WaiaasError(
            "CONSTRAINT_VIOLATED",
            "This session may not send the chain's own coin (allowNative is false); "
            "see allowedTokens.",
        )
    return None


def _session_usd(constraints: dict[str, Any], usd: Usd | None) -> WaiaasError | None:
    """Step 2 in dollars: the session's budgets (no price: the owner decides, later)."""
    if usd is None or usd.value is None:
        return None
    value = usd.value
    per_tx = constraints.get("maxUsdPerTx")
    if per_tx is not None and value > usd_micros(per_tx):
        return WaiaasError(
            "CONSTRAINT_VIOLATED",
            f"The send is worth ${dollars(value)}, over maxUsdPerTx (${per_tx}).",
        )
    for name, total, what in (
        ("maxUsdPerDay", usd.session_daily, "the last 24 hours"),
        ("maxUsdTotal", usd.session_total, "this session's life"),
    ):
        cap = constraints.get(name)
        if cap is not None and total + value > usd_micros(cap):
            left = max(0, usd_micros(cap) - total)
            return WaiaasError(
                "CONSTRAINT_VIOLATED",
                f"The send is worth ${dollars(value)}, over what {name} leaves for {what} "
                f"(${dollars(left)}).",
            )
    return None


def dollars(micros: int) -> str:
    """Micro-dollars as a dollar string with cents at least: 1500000 -> "1.50"."""
    text = format_units(micros, 6)
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"


def tier_of(policy: Policy, amount: int, token: str | None = None) -> Tier:
    """Step 5: the first ceiling at least the amount; above all set ones, APPROVAL."""
    limits = _limits(policy, token)
    ceilings = (limits.instant_max, limits.notify_max, limits.delay_max)
    if all(c is None for c in ceilings):
        return "INSTANT"
    for tier, ceiling in zip(TIERS, ceilings, strict=False):
        if ceiling is not None and amount <= int(ceiling):
            return tier
    return "APPROVAL"


def _escalate(policy: Policy, totals: Totals, amount: int, tier: Tier, token: str | None) -> Tier:
    """Step 6: a send that would pass the daily or monthly limit needs the owner."""
    limits = _limits(policy, token)
    over_day = limits.daily_limit is not None and totals.daily + amount > int(limits.daily_limit)
    over_month = limits.monthly_limit is not None and totals.monthly + amount > int(
        limits.monthly_limit
    )
    return "APPROVAL" if over_day or over_month else tier


def _limits(policy: Policy, token: str | None) -> Any:
    # SOL limits never apply to a token, nor one token's to another (SPEC 14).
    if token is None:
        return policy
    from waiaas_daemon.schemas.policy import TokenLimits

    return lookup(policy.tokens or {}, token) or TokenLimits()


def _same(a: str, b: str) -> bool:
    """One address? EVM addresses (``0x``) are the same whatever their letters' case."""
    return a == b or (a[:2] == "0x" and b[:2] == "0x" and a.lower() == b.lower())


def member(item: str, items: Any) -> bool:
    return any(_same(item, other) for other in items)


def lookup(mapping: Mapping[str, T], key: str) -> T | None:
    """``mapping[key]``, an EVM address key matched whatever its case."""
    if key in mapping:
        return mapping[key]
    return next((v for k, v in mapping.items() if _same(k, key)), None)


def network_error(policy: Policy, network: str | None, home: str | None) -> WaiaasError | None:
    """Step 3: which networks the wallet may send on (``allowedNetworks``; else its own)."""
    if network is None:
        return None
    allowed = policy.allowed_networks
    if allowed is not None and network not in allowed:
        return WaiaasError(
            "POLICY_DENIED",
            f"allowedNetworks: {network} is not in the policy's allowedNetworks "
            f"({', '.join(allowed) or 'none'}).",
        )
    if allowed is None and home is not None and network != home:
        return WaiaasError(
            "POLICY_DENIED",
            f"allowedNetworks: the wallet sends on {home}; to send on {network} the owner "
            "must list it in the policy's allowedNetworks.",
        )
    return None


def _constraints(
    policy: Policy,
    constraints: dict[str, Any],
    totals: Totals,
    to: str,
    amount: int,
    now: int,
    token: str | None,
) -> WaiaasError | None:
    """Step 2: the session's hard caps (the daily one over the wallet's 24 h total).

    The top-level amounts cap SOL; a token has its own under ``tokens.<mint>``,
    and ``totals`` are that asset's (SPEC 14).
    """
    if constraints.get("readOnly"):
        return WaiaasError(
            "CONSTRAINT_VIOLATED", "This session may only read: its owner granted no spending."
        )
    allowed = constraints.get("allowedRecipients")
    if allowed is not None and not member(to, allowed):
        return WaiaasError("CONSTRAINT_VIOLATED", "The recipient is not in allowedRecipients.")
    caps, where, unit = constraints, "", "lamports"
    if token is not None:
        allowed_tokens = constraints.get("allowedTokens")
        if allowed_tokens is not None and not member(token, allowed_tokens):
            return WaiaasError("CONSTRAINT_VIOLATED", "The token is not in allowedTokens.")
        caps = lookup(constraints.get("tokens") or {}, token) or {}
        where, unit = f"tokens.{token}.", "base units"
    per_tx = caps.get("maxAmountPerTx")
    if per_tx is not None and amount > int(per_tx):
        return WaiaasError(
            "CONSTRAINT_VIOLATED", f"The amount is over {where}maxAmountPerTx ({per_tx} {unit})."
        )
    per_day = caps.get("maxAmountPerDay")
    if per_day is not None and totals.daily + amount > int(per_day):
        left = max(0, int(per_day) - totals.daily)
        return WaiaasError(
            "CONSTRAINT_VIOLATED",
            f"The amount is over what {where}maxAmountPerDay leaves for the last 24 hours "
            f"({left} {unit}).",
        )
    return None


def allow_list_error(policy: Policy, to: str, token: str | None) -> WaiaasError | None:
    """Step 3 alone: checked again when an approved payment is finally signed."""
    return _allow_lists(policy, {}, Totals(), to, 0, 0, token)


def _allow_lists(
    policy: Policy,
    constraints: dict[str, Any],
    totals: Totals,
    to: str,
    amount: int,
    now: int,
    token: str | None,
) -> WaiaasError | None:
    """Step 3: the owner's allow lists (allowedTokens binds token sends only)."""
    allowed_tokens = policy.allowed_tokens
    if token is not None and allowed_tokens is not None and not member(token, allowed_tokens):
        return WaiaasError(
            "POLICY_DENIED", "allowedTokens: the token is not in the policy's allowedTokens."
        )
    if policy.allowed_recipients is not None and not member(to, policy.allowed_recipients):
        return WaiaasError(
            "POLICY_DENIED",
            "allowedRecipients: the recipient is not in the policy's allowedRecipients.",
        )
    return None


def _rate(
    policy: Policy,
    constraints: dict[str, Any],
    totals: Totals,
    to: str,
    amount: int,
    now: int,
    token: str | None,
) -> WaiaasError | None:
    """Step 4: maxSendsPerHour, retryable once the oldest send leaves the hour."""
    limit = policy.max_sends_per_hour
    if limit is None or totals.sends_this_hour < limit:
        return None
    oldest = totals.oldest_this_hour if totals.oldest_this_hour is not None else now
    wait = max(1, oldest + HOUR - now)
    return WaiaasError(
        "RATE_LIMITED",
        f"maxSendsPerHour: the wallet has made {totals.sends_this_hour} sends in the last hour "
        f"(limit {limit}).",
        retry_after=wait,
    )


def remaining(
    policy: Policy,
    constraints: dict[str, Any] | None,
    totals: Totals,
    token_totals: Mapping[str, Totals] | None = None,
    usd: Usd | None = None,
) -> Remaining:
    """What the limits still leave the agent: the tighter of policy and session, None if none.

    ``totals`` are SOL's; ``token_totals`` each mint's (absent: nothing counted yet).
    """
    sends = None
    if policy.max_sends_per_hour is not None:
        sends = max(0, policy.max_sends_per_hour - totals.sends_this_hour)
    session_tokens = (constraints or {}).get("tokens") or {}
    mints = {
        mint
        for mint, limits in (policy.tokens or {}).items()
        if limits.daily_limit is not None or limits.monthly_limit is not None
    } | {mint for mint, caps in session_tokens.items() if caps.get("maxAmountPerDay") is not None}
    tokens = {
        mint: TokenRemaining(
            daily=_left(
                [
                    _limits(policy, mint).daily_limit,
                    (session_tokens.get(mint) or {}).get("maxAmountPerDay"),
                ],
                (token_totals or {}).get(mint, Totals()).daily,
            ),
            monthly=_left(
                [_limits(policy, mint).monthly_limit],
                (token_totals or {}).get(mint, Totals()).monthly,
            ),
        )
        for mint in sorted(mints)
    }
    return Remaining(
        daily=_left([policy.daily_limit, (constraints or {}).get("maxAmountPerDay")], totals.daily),
        monthly=_left([policy.monthly_limit], totals.monthly),
        sends_this_hour=sends,
        tokens=tokens,
        usd=usd_remaining(policy, constraints, usd or Usd(None)),
    )


def budget_left(constraints: dict[str, Any] | None, usd: Usd) -> UsdRemaining | None:
    """What the session's own dollar budgets leave (the policy's limits aside)."""
    return usd_remaining(Policy(), constraints, usd)


def usd_remaining(
    policy: Policy, constraints: dict[str, Any] | None, usd: Usd
) -> UsdRemaining | None:
    """What the dollar limits leave, in dollars; None when no dollar rule is set."""
    if not usd_binds(policy, constraints):
        return None
    rules, session = policy.usd or UsdRules(), constraints or {}
    day = [
        usd_micros(rules.daily_limit) - usd.daily if rules.daily_limit else None,
        usd_micros(session["maxUsdPerDay"]) - usd.session_daily
        if session.get("maxUsdPerDay")
        else None,
    ]
    month = usd_micros(rules.monthly_limit) - usd.monthly if rules.monthly_limit else None
    total = (
        usd_micros(session["maxUsdTotal"]) - usd.session_total
        if session.get("maxUsdTotal")
        else None
    )
    known = [d for d in day if d is not None]
    return UsdRemaining(
        daily=dollars(max(0, min(known))) if known else None,
        monthly=None if month is None else dollars(max(0, month)),
        total=None if total is None else dollars(max(0, total)),
        per_tx=session.get("maxUsdPerTx"),
    )


def _left(caps: list[str | None], total: int) -> str | None:
    """The tightest set cap less the total, never below 0; None when no cap is set."""
    left = [int(c) - total for c in caps if c is not None]
    return str(max(0, min(left))) if left else None
