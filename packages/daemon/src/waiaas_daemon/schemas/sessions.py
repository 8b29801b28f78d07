"""Models of sessions, their renewal and the MCP token file."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from waiaas_core.limits import MAX_LIST
from waiaas_daemon.schemas._base import (
    Address,
    Amount,
    Label,
    Model,
    Query,
    Uuid,
    check_address,
    check_amount,
)
from waiaas_daemon.schemas.policy import Usd, UsdRemaining, WalletControl
from waiaas_daemon.schemas.system import KillSwitch, UnixTime

# Its bounds are the operator's settings: checked by the route, written into the
# document by openapi.py.
ExpiresIn = Annotated[int, Meta(description="Seconds; bounds from the daemon's settings.")]


class TokenConstraint(Model, omit_defaults=True):
    """One token's caps, in its base units; SOL's never apply to it (SPEC 14)."""

    max_amount_per_tx: Amount | None = None
    max_amount_per_day: Amount | None = None


NetworkName = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", examples=["mainnet"])]


class Constraints(Model, omit_defaults=True):
    """Hard caps on one session, enforced on every spend.

    The top-level amounts are lamports and bind SOL sends only; ``tokens`` caps
    each mint in its own base units, ``allowedTokens`` binds token sends only.
    The ``maxUsd*`` budgets are dollars over every asset: per send, over the
    session's own last 24 hours, and over its whole life; ``allowNative`` false
    refuses sends of the chain's own coin (SOL, ETH), ``allowedNetworks`` any
    network not listed.
    """

    max_amount_per_tx: Amount | None = None
    max_amount_per_day: Amount | None = None
    allowed_recipients: Annotated[list[Address], Meta(max_length=MAX_LIST)] | None = None
    tokens: Annotated[dict[str, TokenConstraint], Meta(max_length=MAX_LIST)] | None = None
    allowed_tokens: Annotated[list[Address], Meta(max_length=MAX_LIST)] | None = None
    max_usd_per_tx: Usd | None = None
    max_usd_per_day: Usd | None = None
    max_usd_total: Usd | None = None
    allow_native: bool | None = None
    allowed_networks: Annotated[list[NetworkName], Meta(max_length=16)] | None = None
    #: No spending at all: reads only (an OAuth grant without ``wallet:spend``).
    read_only: bool | None = None

    def check(self) -> None:
        check_amount(self.max_amount_per_tx, "constraints.maxAmountPerTx")
        check_amount(self.max_amount_per_day, "constraints.maxAmountPerDay")
        for i, address in enumerate(self.allowed_recipients or ()):
            check_address(address, f"constraints.allowedRecipients[{i}]")
        for i, mint in enumerate(self.allowed_tokens or ()):
            check_address(mint, f"constraints.allowedTokens[{i}]")
        for mint, caps in (self.tokens or {}).items():
            check_address(mint, f"constraints.tokens.{mint[:50]}")
            check_amount(caps.max_amount_per_tx, f"constraints.tokens.{mint}.maxAmountPerTx")
            check_amount(caps.max_amount_per_day, f"constraints.tokens.{mint}.maxAmountPerDay")


class SessionCreate(Model):
    wallet_id: Uuid
    expires_in: ExpiresIn | None = None
    constraints: Constraints | None = None
    label: Label | None = None

    def check(self) -> None:
        if self.constraints is not None:
            self.constraints.check()


class SessionCreated(Model):
    id: Uuid
    token: str
    expires_at: UnixTime
    wallet_id: Uuid


SessionStatus = Literal["ACTIVE", "EXPIRED", "REVOKED"]


class Session(Model):
    id: Uuid
    wallet_id: Uuid
    label: str | None
    status: SessionStatus
    renewal_count: int
    max_renewals: int
    expires_at: UnixTime
    absolute_expires_at: UnixTime
    created_at: UnixTime
    last_renewed_at: UnixTime | None
    constraints: dict[str, Any] | None


class OwnSession(Session):
    """``GET /v1/session``: the session, and what refuses its sends before any policy.

    An agent learns of the kill switch and of a suspension here, not only from a 403.
    """

    kill_switch: KillSwitch
    wallet: WalletControl
    budget: Annotated[
        UsdRemaining | None,
        Meta(
            description="What this session's dollar budgets (maxUsdPerTx, maxUsdPerDay, "
            "maxUsdTotal) leave, in dollars; null when it has none."
        ),
    ] = None


class SessionList(Model):
    items: list[Session]


class SessionListQuery(Query):
    wallet_id: Uuid | None = None


class SessionRevoked(Model):
    id: Uuid
    status: Literal["REVOKED"]


class SessionRenewed(Model):
    id: Uuid
    token: str
    expires_at: UnixTime
    renewal_count: int
    max_renewals: int
    absolute_expires_at: UnixTime


class McpTokenCreate(Model):
    wallet_id: Uuid
    expires_in: ExpiresIn | None = None
    constraints: Constraints | None = None

    def check(self) -> None:
        if self.constraints is not None:
            self.constraints.check()


class McpToken(Model):
    wallet_id: Uuid
    wallet_name: str
    session_id: Uuid
    token_path: str
    expires_at: UnixTime
    claude_desktop_config: dict[str, Any]
