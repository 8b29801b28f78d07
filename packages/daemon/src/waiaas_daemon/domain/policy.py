"""The wallet policy of SPEC 12 and the pure send decision made from it.

``decide`` takes the policy, the session's constraints, the wallet's totals
and the request, and returns what to do; it reads no database and no clock, so
the caller gathers the inputs under the wallet's send lock and acts on the answer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from waiaas_core.errors import WaiaasError
from waiaas_daemon.schemas.policy import Policy, Remaining, TokenRemaining

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
class Decision:
    """A tier to send at, or a denial (``error``) that records nothing."""

    tier: Tier | None
    error: WaiaasError | None = None

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


def decide(
    policy: Policy,
    constraints: dict[str, Any] | None,
    totals: Totals,
    *,
    to: str,
    amount: int,
    now: int,
    token: str | None = None,
) -> Decision:
    """SPEC 12 steps 2-6, in order; the first denial answers."""
    for check in (_constraints, _allow_lists, _rate):
        error = check(policy, constraints or {}, totals, to, amount, now, token)
        if error is not None:
            return Decision(None, error)
    return Decision(_escalate(policy, totals, amount, tier_of(policy, amount, token), token))


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

    return (policy.tokens or {}).get(token) or TokenLimits()


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
    if allowed is not None and to not in allowed:
        return WaiaasError("CONSTRAINT_VIOLATED", "The recipient is not in allowedRecipients.")
    caps, where, unit = constraints, "", "lamports"
    if token is not None:
        allowed_tokens = constraints.get("allowedTokens")
        if allowed_tokens is not None and token not in allowed_tokens:
            return WaiaasError("CONSTRAINT_VIOLATED", "The token is not in allowedTokens.")
        caps = (constraints.get("tokens") or {}).get(token) or {}
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
    if token is not None and allowed_tokens is not None and token not in allowed_tokens:
        return WaiaasError(
            "POLICY_DENIED", "allowedTokens: the token is not in the policy's allowedTokens."
        )
    if policy.allowed_recipients is not None and to not in policy.allowed_recipients:
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
    )


def _left(caps: list[str | None], total: int) -> str | None:
    """The tightest set cap less the total, never below 0; None when no cap is set."""
    left = [int(c) - total for c in caps if c is not None]
    return str(max(0, min(left))) if left else None
