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
#: Page sizes of every listing route.
DEFAULT_PAGE = 20
MAX_PAGE = 100


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
