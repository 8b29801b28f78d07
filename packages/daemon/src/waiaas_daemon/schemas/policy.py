"""Models of the wallet policy (SPEC 12), owner decisions, the kill switch and suspension."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_AMOUNT, MAX_AMOUNT_DIGITS, MAX_LIST
from waiaas_daemon.schemas._base import (
    PATTERN_TEXT,
    Address,
    Model,
    Network,
    Uuid,
    check_address,
)
from waiaas_daemon.schemas.system import UnixTime
from waiaas_daemon.schemas.transactions import Transaction

# A ceiling or limit may be 0 ("nothing at this tier"), unlike a send's amount.
LIMIT_PATTERN = rf"^(0|[1-9][0-9]{{0,{MAX_AMOUNT_DIGITS - 1}}})$"
PATTERN_TEXT[LIMIT_PATTERN] = "must be a whole number of base units, as a decimal string"
THIRTY_DAYS = 30 * 86400

Limit = Annotated[
    str,
    Meta(
        pattern=LIMIT_PATTERN,
        description="Base units (lamports for SOL), 0 to 2^64-1, as a decimal string.",
        examples=["100000000"],
    ),
]
Reason = Annotated[str, Meta(max_length=500, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")]

# Dollars as a person writes them: up to a trillion, at most 6 decimals (micro-dollars).
USD_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,6})?$"
PATTERN_TEXT[USD_PATTERN] = "must be US dollars as a decimal string, at most 6 decimals (12.50)"
Usd = Annotated[
    str,
    Meta(
        pattern=USD_PATTERN,
        description="US dollars as a decimal string (0 to 999999999999.999999).",
        examples=["10.50"],
    ),
]


def usd_micros(value: str) -> int:
    """A ``Usd`` string in millionths of a dollar, exactly."""
    whole, _, fraction = value.partition(".")
    return int(whole) * 10**6 + int(fraction.ljust(6, "0") or "0")


class UsdRules(Model, omit_defaults=True):
    """The owner's rules in dollars, over every token on every chain of the wallet.

    Beside the per-token rules: the stricter tier wins. Without a usable price a
    send under any of these rules waits for the owner (reason ``no price``).
    """

    instant_max: Usd | None = None
    notify_max: Usd | None = None
    delay_max: Usd | None = None
    daily_limit: Usd | None = None
    monthly_limit: Usd | None = None
    chat_approval_max: Usd | None = None

    def any(self) -> bool:
        return any(
            v is not None
            for v in (
                self.instant_max,
                self.notify_max,
                self.delay_max,
                self.daily_limit,
                self.monthly_limit,
            )
        )

    def check(self) -> None:
        for pairs in (
            [
                ("instantMax", self.instant_max),
                ("notifyMax", self.notify_max),
                ("delayMax", self.delay_max),
            ],
            [("dailyLimit", self.daily_limit), ("monthlyLimit", self.monthly_limit)],
        ):
            previous: tuple[str, int, str] | None = None
            for name, value in pairs:
                if value is None:
                    continue
                if previous is not None and usd_micros(value) < previous[1]:
                    raise _invalid(
                        f"usd.{name}", f"must not be below {previous[0]} ({previous[2]})"
                    )
                previous = (name, usd_micros(value), value)


class TokenLimits(Model, omit_defaults=True):
    """One SPL token's own ceilings and limits, in its base units."""

    instant_max: Limit | None = None
    notify_max: Limit | None = None
    delay_max: Limit | None = None
    daily_limit: Limit | None = None
    monthly_limit: Limit | None = None
    # The most a tap in the linked Telegram chat may approve (docs/notes/telegram.md);
    # above it the console or the CLI must. Unset: no chat limit.
    chat_approval_max: Limit | None = None

    def check_at(self, where: str) -> None:
        for name in (
            "instant_max",
            "notify_max",
            "delay_max",
            "daily_limit",
            "monthly_limit",
            "chat_approval_max",
        ):
            value = getattr(self, name)
            if value is not None and int(value) > MAX_AMOUNT:
                raise _invalid(where + _camel(name), f"must be at most {MAX_AMOUNT}")
        _ordered(
            where,
            [
                ("instantMax", self.instant_max),
                ("notifyMax", self.notify_max),
                ("delayMax", self.delay_max),
            ],
        )
        _ordered(where, [("dailyLimit", self.daily_limit), ("monthlyLimit", self.monthly_limit)])


# A host name as the owner types it: DNS labels, or an IPv4 address, optionally a
# leading "*." for every subdomain and a ":port"; compared lowercase.
HOST_PATTERN = (
    r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:[0-9]{1,5})?$"
)
PATTERN_TEXT[HOST_PATTERN] = "must be a host name, optionally *. in front and :port after"
Host = Annotated[str, Meta(pattern=HOST_PATTERN, max_length=260, examples=["api.example.com"])]
X402Network = Annotated[str, Meta(pattern=r"^[A-Za-z0-9:_-]{1,64}$", examples=["solana"])]


class X402Rules(Model, omit_defaults=True):
    """Paying for HTTP resources with x402 (docs/policy.md): where, and how much at most.

    Nothing is paid to a host that is not in ``allowedHosts`` unless
    ``allowAnyHost``; ``maxPerRequest`` caps one payment per mint (base units);
    ``networks`` narrows the x402 network ids accepted (default: the wallet's own);
    ``preferredNetworks`` orders them when a resource offers several ways to pay.
    """

    allowed_hosts: Annotated[list[Host], Meta(max_length=MAX_LIST)] | None = None
    allow_any_host: bool | None = None
    max_per_request: Annotated[dict[str, Limit], Meta(max_length=MAX_LIST)] | None = None
    networks: Annotated[list[X402Network], Meta(max_length=16)] | None = None
    preferred_networks: Annotated[list[X402Network], Meta(max_length=16)] | None = None

    def check(self) -> None:
        for mint, ceiling in (self.max_per_request or {}).items():
            check_address(mint, f"x402.maxPerRequest.{mint[:50]}")
            if int(ceiling) > MAX_AMOUNT:
                raise _invalid(f"x402.maxPerRequest.{mint}", f"must be at most {MAX_AMOUNT}")
        for i, host in enumerate(self.allowed_hosts or ()):
            port = host.rpartition(":")[2] if ":" in host else None
            if port is not None and not 1 <= int(port) <= 65535:
                raise _invalid(f"x402.allowedHosts[{i}]", "the port must be 1 to 65535")


class Policy(TokenLimits, omit_defaults=True):
    """The owner's standing rule for every session of one wallet; every field optional."""

    delay_seconds: Annotated[int, Meta(ge=0, le=THIRTY_DAYS)] | None = None
    approval_timeout: Annotated[int, Meta(ge=1, le=THIRTY_DAYS)] | None = None
    allowed_recipients: Annotated[list[Address], Meta(max_length=MAX_LIST)] | None = None
    max_sends_per_hour: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    auto_suspend_after_denials: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    tokens: Annotated[dict[str, TokenLimits], Meta(max_length=MAX_LIST)] | None = None
    allowed_tokens: Annotated[list[Address], Meta(max_length=MAX_LIST)] | None = None
    # The networks the wallet may send on (unset: its own network only; an EVM
    # wallet's one key works on every EVM network, so the owner opts each in).
    allowed_networks: Annotated[list[Network], Meta(max_length=32)] | None = None
    x402: X402Rules | None = None
    usd: UsdRules | None = None

    def check(self) -> None:
        self.check_at("")
        if self.x402 is not None:
            self.x402.check()
        if self.usd is not None:
            self.usd.check()
        for i, address in enumerate(self.allowed_recipients or ()):
            check_address(address, f"allowedRecipients[{i}]")
        for i, mint in enumerate(self.allowed_tokens or ()):
            check_address(mint, f"allowedTokens[{i}]")
        for mint, limits in (self.tokens or {}).items():
            check_address(mint, f"tokens.{mint[:50]}")
            limits.check_at(f"tokens.{mint}.")


def _ordered(where: str, ceilings: list[tuple[str, str | None]]) -> None:
    """Each set ceiling at least every set one before it ("notifyMax below instantMax")."""
    previous: tuple[str, int] | None = None
    for name, value in ceilings:
        if value is None:
            continue
        if previous is not None and int(value) < previous[1]:
            raise _invalid(where + name, f"must not be below {previous[0]} ({previous[1]})")
        previous = (name, int(value))


def _invalid(where: str, why: str) -> WaiaasError:
    return WaiaasError("INVALID_REQUEST", f"{where}: {why}")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


class WalletPolicy(Model):
    wallet_id: Uuid
    version: Annotated[int, Meta(ge=0)]
    updated_at: UnixTime | None
    policy: Policy


class TokenRemaining(Model):
    """What one token's limits leave, in its base units; null where no limit applies."""

    daily: str | None
    monthly: str | None


class UsdRemaining(Model):
    """What the dollar limits leave, in dollars; null where no such limit applies.

    ``daily`` is the tighter of the policy's ``usd.dailyLimit`` (the wallet's 24 h)
    and the session's ``maxUsdPerDay`` (its own 24 h); ``total`` is what the
    session's ``maxUsdTotal`` leaves for the rest of its life; ``perTx`` its
    ``maxUsdPerTx``.
    """

    daily: str | None
    monthly: str | None
    total: str | None
    per_tx: str | None


class Remaining(Model, omit_defaults=True):
    daily: str | None
    monthly: str | None
    sends_this_hour: int | None
    tokens: Annotated[
        dict[str, TokenRemaining],
        Meta(
            description="Per mint, for every token with a daily or monthly limit in the "
            "policy (`tokens.<mint>.dailyLimit`, `monthlyLimit`) or the session's constraints "
            "(`tokens.<mint>.maxAmountPerDay`); `{}` when none has one."
        ),
    ]
    usd: UsdRemaining | None = None


class AgentPolicy(Model):
    policy: Policy
    version: Annotated[int, Meta(ge=0)]
    constraints: dict[str, Any] | None
    remaining: Remaining


class PendingList(Model):
    items: list[Transaction]


class Decision(Model):
    """An owner's reject, or a kill switch or suspension, with an optional reason."""

    reason: Reason | None = None


class WalletControl(Model):
    wallet_id: Uuid
    status: Literal["ACTIVE", "SUSPENDED", "TERMINATED"]
    reason: str | None
    since: UnixTime | None
