"""Reading request bodies and parameters into checked values, or a 400 naming the field."""

from __future__ import annotations

import json
import uuid
from typing import Any

from solders.pubkey import Pubkey
from starlette.requests import Request

from waiaas_core.errors import WaiaasError
from waiaas_core.paths import check_wallet_id


async def json_object(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip() and allow_empty:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise WaiaasError("INVALID_REQUEST", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise WaiaasError("INVALID_REQUEST", "The body must be a JSON object.")
    return body


def invalid(field: str, why: str) -> WaiaasError:
    return WaiaasError("INVALID_REQUEST", f"{field}: {why}")


def string(
    body: dict[str, Any], field: str, *, required: bool = True, max_length: int = 200
) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if required and not value.strip():
        raise invalid(field, "must not be empty")
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    return value


def integer(
    body: dict[str, Any], field: str, *, low: int, high: int, required: bool = True
) -> int | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(field, "is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(field, "must be a whole number")
    if not low <= value <= high:
        raise invalid(field, f"must be between {low} and {high}")
    return value


def lamports(value: Any, field: str, *, max_value: int = 2**64 - 1) -> int:
    """A positive amount of lamports given as a decimal string (or an integer)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise invalid(field, "must be a decimal string of lamports")
    text = str(value)
    if not text.isascii() or not text.isdigit():
        raise invalid(field, "must be a positive whole number of lamports, as a decimal string")
    if len(text) > 20 or not 0 < int(text) <= max_value:
        raise invalid(field, f"must be between 1 and {max_value} lamports")
    return int(text)


def path_uuid(request: Request, name: str, not_found: str) -> str:
    """A path id in canonical UUID form; anything else cannot name a record (404)."""
    raw = request.path_params[name]
    try:
        value = str(uuid.UUID(raw))
    except ValueError:
        raise WaiaasError(not_found) from None
    if value != raw.lower():
        raise WaiaasError(not_found)
    return value


def no_unknown_fields(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(unknown[0], "is not a known field")


def address(value: Any, field: str) -> str:
    """A Solana address: base58 text of exactly 32 bytes."""
    if not isinstance(value, str) or not 32 <= len(value) <= 44:
        raise WaiaasError("INVALID_ADDRESS", f"{field}: not a base58 Solana address")
    try:
        Pubkey.from_string(value)
    except ValueError:
        raise WaiaasError("INVALID_ADDRESS", f"{field}: not a base58 Solana address") from None
    return value


def constraints(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("constraints", "must be an object")
    no_unknown_fields(value, {"maxAmountPerTx", "maxAmountPerDay", "allowedRecipients"})
    result: dict[str, Any] = {}
    for name in ("maxAmountPerTx", "maxAmountPerDay"):
        if value.get(name) is not None:
            result[name] = str(lamports(value[name], f"constraints.{name}"))
    recipients = value.get("allowedRecipients")
    if recipients is not None:
        if not isinstance(recipients, list) or len(recipients) > 100:
            raise invalid(
                "constraints.allowedRecipients", "must be a list of at most 100 addresses"
            )
        result["allowedRecipients"] = [
            address(r, "constraints.allowedRecipients") for r in recipients
        ]
    return result


def wallet_id(body: dict[str, Any], field: str = "walletId") -> str:
    raw = string(body, field, max_length=64)
    try:
        return check_wallet_id(raw)
    except WaiaasError:
        raise invalid(field, "must be a wallet id (UUID)") from None
