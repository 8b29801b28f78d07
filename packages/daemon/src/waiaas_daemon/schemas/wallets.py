"""Models of the owner's wallet routes and of the token's own wallet."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from waiaas_daemon.schemas._base import (
    Address,
    Amount,
    ChainName,
    Model,
    Name,
    Network,
    Uuid,
    check_amount,
)
from waiaas_daemon.schemas.system import UnixTime
from waiaas_daemon.schemas.tokens import TokenRef

WalletStatus = Literal["ACTIVE", "SUSPENDED", "TERMINATED"]


class WalletCreate(Model):
    name: Name
    network: Network | None = None
    chain: Annotated[
        ChainName | None,
        Meta(
            description="The chain family: `solana` (the default) or `evm` (one address on "
            "every EVM network). Without it, the family of `network`."
        ),
    ] = None


class WalletRename(Model):
    name: Name


class Wallet(Model):
    id: Uuid
    name: str
    chain: ChainName
    network: Network
    address: Address
    status: WalletStatus
    created_at: UnixTime
    suspended_reason: Annotated[
        str | None,
        Meta(
            description="Why the wallet is suspended (the owner's reason, or "
            "`auto: <n> denials within an hour`); null unless SUSPENDED."
        ),
    ]
    suspended_at: Annotated[
        UnixTime | None, Meta(description="When it was suspended; null unless SUSPENDED.")
    ]


class WalletList(Model):
    items: list[Wallet]


class AirdropRequest(Model):
    amount: Amount
    token: TokenRef | None = None

    def check(self) -> None:
        check_amount(self.amount, "amount")


class WalletAddress(Model):
    wallet_id: Uuid
    chain: ChainName
    network: Network
    address: Address


class WalletBalance(Model):
    wallet_id: Uuid
    chain: ChainName
    network: Network
    address: Address
    balance: str
    decimals: int
    symbol: str
