"""The base model and the field types every resource's models are made of."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta
from solders.pubkey import Pubkey

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import (
    BASE58_ADDRESS,
    MAX_AMOUNT,
    MAX_AMOUNT_DIGITS,
    MAX_LABEL,
    MAX_MEMO,
    MAX_NAME,
)
from waiaas_core.networks import looks_evm

T = TypeVar("T")

BASE58_PATTERN = BASE58_ADDRESS
AMOUNT_PATTERN = rf"^[1-9][0-9]{{0,{MAX_AMOUNT_DIGITS - 1}}}$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
# Text a person typed: no NUL or other C0 control but tab, newline and return.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
NAME_PATTERN = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"

# What a failed pattern means, said to the client instead of the regex.
PATTERN_TEXT = {
    AMOUNT_PATTERN: "must be a positive whole number of base units, as a decimal string",
    UUID_PATTERN: "must be an id (a UUID in lower case)",
    TEXT_PATTERN: "must not contain control characters",
    NAME_PATTERN: "must hold a visible character and no control characters",
}


class Model(msgspec.Struct, forbid_unknown_fields=True, rename="camel", kw_only=True):
    """Fields in camelCase, unknown fields refused; ``check`` adds cross-field rules."""

    def check(self) -> None:
        """Rules a field's type cannot say; raise WaiaasError naming the field."""


class Query(msgspec.Struct, rename="camel", kw_only=True):
    """A query string: parameters it does not name are ignored, as caches and proxies add some."""

    def check(self) -> None:
        """Rules a parameter's type cannot say."""


Amount = Annotated[
    str,
    Meta(
        pattern=AMOUNT_PATTERN,
        description="An amount in the asset's base units (lamports for SOL), 1 to 2^64-1, "
        "as a decimal string.",
        examples=["1000000"],
    ),
]
EVM_ADDRESS_PATTERN = r"0x[0-9a-fA-F]{40}"
ADDRESS_PATTERN = rf"^({BASE58_PATTERN[1:-1]}|{EVM_ADDRESS_PATTERN})$"
PATTERN_TEXT[ADDRESS_PATTERN] = (
    "must be an address: base58 text of 32 bytes (Solana) or 0x and 40 hex digits (EVM)"
)
Address = Annotated[
    str,
    Meta(
        pattern=ADDRESS_PATTERN,
        description="An address of the wallet's chain: Solana's base58 text of exactly "
        "32 bytes, or an EVM address (0x and 40 hex digits, EIP-55 checksum when mixed case).",
    ),
]
Uuid = Annotated[str, Meta(pattern=UUID_PATTERN, description="A UUID in canonical form.")]
Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=NAME_PATTERN)]
Label = Annotated[str, Meta(max_length=MAX_LABEL, pattern=TEXT_PATTERN)]
Memo = Annotated[str, Meta(max_length=MAX_MEMO, pattern=TEXT_PATTERN)]
Sha256Hex = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
# waiaas_core.networks.NETWORK_NAMES, spelled out for the type checker (a test compares them).
Network = Literal[
    "local",
    "devnet",
    "testnet",
    "mainnet",
    "evm-local",
    "ethereum",
    "sepolia",
    "base",
    "base-sepolia",
    "arbitrum",
    "arbitrum-sepolia",
    "optimism",
    "optimism-sepolia",
    "polygon",
    "polygon-amoy",
]
ChainName = Literal["solana", "evm"]


def check(value: Any) -> None:
    if isinstance(value, Model | Query):
        value.check()


def check_amount(value: str | None, field: str) -> int | None:
    """The amount as an int; the pattern bounds its digits, this its value."""
    if value is None:
        return None
    amount = int(value)
    if amount > MAX_AMOUNT:
        raise WaiaasError("INVALID_REQUEST", f"{field}: must be at most {MAX_AMOUNT}")
    return amount


def check_address(value: str, field: str) -> str:
    """The pattern admits 44 characters that decode to more than 32 bytes; this does not.

    An EVM address passes on its shape; whether it fits the wallet's chain (and its
    EIP-55 checksum) is the domain's check, which knows the wallet.
    """
    if looks_evm(value):
        return value
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise WaiaasError(
            "INVALID_ADDRESS", f"{field}: not a base58 Solana address nor an EVM address"
        ) from None
    return value


def empty_body_allowed(model: type) -> bool:
    """A body whose fields are all optional may be left out altogether."""
    info = msgspec.inspect.type_info(model)
    return all(not f.required for f in getattr(info, "fields", ()))


def is_clean_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
