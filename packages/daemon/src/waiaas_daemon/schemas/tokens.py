"""Models of the token registry and of the token's wallet's assets (SPEC 14)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from waiaas_daemon.schemas._base import Address, Model, Network, Query, check_address

# A symbol as the owner names a token: letters, digits and a few marks; "SOL" is SOL's.
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$"
Symbol = Annotated[
    str,
    Meta(pattern=SYMBOL_PATTERN, description="1 to 16 letters, digits, '.', '_' or '-'."),
]
# What a send or an airdrop names a token by: a registry symbol or a mint address.
TokenRef = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,43}$",
        description="A registry symbol of the wallet's network (GET /v1/tokens) or a mint address.",
        examples=["USDC"],
    ),
]
Decimals = Annotated[int, Meta(ge=0, le=255)]


class TokenListQuery(Query):
    network: Network | None = None


class TokenEntry(Model):
    network: Network
    mint: Address
    symbol: str
    decimals: Decimals
    token_program: str | None
    builtin: bool


class TokenList(Model):
    network: Network
    items: list[TokenEntry]


class TokenCreate(Model):
    network: Network
    mint: Address
    symbol: Symbol
    decimals: Decimals | None = None

    def check(self) -> None:
        check_address(self.mint, "mint")


class TokenRefField(Model):
    """The ``{mint, symbol, decimals}`` a transaction record carries for a token."""

    mint: Address
    symbol: str | None
    decimals: Decimals

    @classmethod
    def of(cls, mint: str | None, symbol: str | None, decimals: int | None) -> TokenRefField | None:
        """A record's token columns as the field; None for SOL (no mint)."""
        if mint is None or decimals is None:
            return None
        return cls(mint=mint, symbol=symbol, decimals=decimals)


class Asset(Model):
    symbol: str | None
    mint: Address | None
    amount: str
    decimals: Decimals
    token_program: str | None = None


class Assets(Model):
    wallet_id: str
    network: Network
    items: list[Asset]
