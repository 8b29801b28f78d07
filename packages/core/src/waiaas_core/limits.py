"""Limits and identifier checks every package shares, so they are written once.

The daemon turns a ``ValueError`` from these checks into its own 400 or 404;
the MCP server and the CLI into their own messages.
"""

from __future__ import annotations

import re
import uuid

#: The largest amount in base units (a u64 on Solana).
MAX_AMOUNT = 2**64 - 1
#: Decimal digits of MAX_AMOUNT: no longer amount string can be valid.
MAX_AMOUNT_DIGITS = len(str(MAX_AMOUNT))
#: A memo recorded with a transfer, in characters.
MAX_MEMO = 256
#: A base58 Solana address (32 bytes encode to 32..44 characters).
BASE58_ADDRESS = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"
BASE58_ADDRESS_RE = re.compile(BASE58_ADDRESS)
#: Addresses in one allow list, mints in one token list.
MAX_LIST = 100
#: A name or label a person types.
MAX_NAME = 100
MAX_LABEL = 64
#: The largest request body and JSON nesting the daemon accepts.
MAX_BODY_BYTES = 64 * 1024
MAX_JSON_DEPTH = 32
#: The most digits a JSON number may have (an amount has at most 20; ids and counts fewer).
MAX_NUMBER_DIGITS = 30
#: Page sizes of every listing route.
DEFAULT_PAGE = 20
MAX_PAGE = 100


def json_problem(value: object, depth: int = 1) -> str | None:
    """Why a decoded JSON value (at nesting ``depth``) breaks the limits every route applies,
    or None: deeper than MAX_JSON_DEPTH, an integer of more than MAX_NUMBER_DIGITS digits,
    or a string with a NUL. For the fields a model leaves open (``Any``), such as
    JSON-RPC ``params``; typed fields are bounded by their own types.
    """
    if depth > MAX_JSON_DEPTH:
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return None
    if isinstance(value, int):
        if abs(value) >= 10**MAX_NUMBER_DIGITS:
            return f"a number of more than {MAX_NUMBER_DIGITS} digits"
        return None
    if isinstance(value, str):
        return "a string with a NUL character" if "\x00" in value else None
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    for item in items:
        problem = json_problem(item, depth + 1)
        if problem is not None:
            return problem
    return None


def number_digits_ok(text: str) -> bool:
    """Whether a JSON number's text has at most MAX_NUMBER_DIGITS digits (its exponent aside)."""
    mantissa = text.lower().partition("e")[0]
    return sum(ch.isdigit() for ch in mantissa) <= MAX_NUMBER_DIGITS


def canonical_uuid(value: object) -> str:
    """``value`` if it is a UUID in canonical form (lower case, hyphens), else ValueError.

    Upper case, braces, URNs and bare hex are refused rather than normalized:
    an id becomes a file name, and one id must have one spelling.
    """
    if not isinstance(value, str):
        raise ValueError("not a UUID")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValueError("not a UUID") from None
    if str(parsed) != value:
        raise ValueError("not a canonical UUID")
    return value
