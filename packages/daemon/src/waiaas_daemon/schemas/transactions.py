"""Models of sends and of the token's wallet's transaction records."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from waiaas_core.limits import DEFAULT_PAGE, MAX_PAGE
from waiaas_daemon.schemas._base import (
    Address,
    Amount,
    Memo,
    Model,
    Network,
    Query,
    Uuid,
    check_address,
    check_amount,
)
from waiaas_daemon.schemas.system import UnixTime
from waiaas_daemon.schemas.tokens import TokenRef, TokenRefField


class SendRequest(Model):
    to: Annotated[
        Address,
        Meta(
            description="The recipient: an address of the wallet's chain (base58 for a Solana "
            "wallet, 0x... for an EVM wallet); another chain's address is 400 INVALID_ADDRESS."
        ),
    ]
    amount: Amount
    token: TokenRef | None = None
    memo: Memo | None = None
    network: Annotated[
        Network | None,
        Meta(
            description="Where to send (EVM wallets: any EVM network the policy's "
            "allowedNetworks lists); default the wallet's own network."
        ),
    ] = None

    def check(self) -> None:
        check_address(self.to, "to")
        check_amount(self.amount, "amount")


Tier = Literal["INSTANT", "NOTIFY", "DELAY", "APPROVAL"]


class UsdValue(Model, omit_defaults=True):
    """What a send was worth in dollars when it was decided (a dollar rule asked).

    ``value`` is null and ``error`` says why when no usable price was found.
    """

    value: str | None = None
    price: str | None = None
    source: str | None = None
    priced_at: UnixTime | None = None
    error: str | None = None


class SendResult(Model, omit_defaults=True):
    """201: sent now, with its signature; 202: QUEUED with executeAt or
    PENDING_APPROVAL with approvalExpiresAt; ``tierReason`` when a dollar rule raised
    the tier (``no price`` when no usable price was found)."""

    id: Uuid
    status: str
    tier: Tier
    signature: str | None = None
    execute_at: UnixTime | None = None
    approval_expires_at: UnixTime | None = None
    tier_reason: str | None = None
    usd: UsdValue | None = None


class Transaction(Model):
    id: Uuid
    wallet_id: Uuid
    type: str
    status: str
    to: str | None
    amount: str
    memo: str | None
    signature: str | None
    error: str | None
    created_at: UnixTime
    updated_at: UnixTime
    tier: Tier | None
    execute_at: UnixTime | None
    approval_expires_at: UnixTime | None
    decided_at: UnixTime | None
    reason: str | None
    token: TokenRefField | None = None
    origin: str | None = None
    settlement: str | None = None
    usd: UsdValue | None = None
    tier_reason: str | None = None
    network: Annotated[str | None, Meta(description="The network the transaction went out on.")] = (
        None
    )
    nonce: Annotated[int | None, Meta(description="EVM: the account nonce it was signed with.")] = (
        None
    )
    fee: Annotated[
        str | None,
        Meta(
            description="EVM: the fee it paid once mined, in wei (a reverted transaction pays too)."
        ),
    ] = None


class TransactionPage(Model):
    items: list[Transaction]
    cursor: str | None


class TransactionListQuery(Query):
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    cursor: Annotated[str, Meta(max_length=200)] | None = None
    network: Network | None = None


class NetworkQuery(Query):
    """Which network of the wallet's family to read (default: the wallet's own)."""

    network: Network | None = None
