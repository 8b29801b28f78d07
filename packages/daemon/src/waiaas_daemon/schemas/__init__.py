"""Request and response models of the REST API, one module per resource.

The base types here (``Model``, ``Amount``, ``Address`` ...) carry their
bounds, so validation, the handler's types and the OpenAPI document come from
the same declaration.
"""

from __future__ import annotations

from waiaas_daemon.schemas._base import (
    ADDRESS_PATTERN,
    BASE58_PATTERN,
    PATTERN_TEXT,
    Address,
    Amount,
    Label,
    Memo,
    Model,
    Name,
    Network,
    Query,
    Sha256Hex,
    T,
    Uuid,
    check,
    check_address,
    check_amount,
    empty_body_allowed,
    is_clean_text,
)

__all__ = [
    "ADDRESS_PATTERN",
    "BASE58_PATTERN",
    "PATTERN_TEXT",
    "Address",
    "Amount",
    "Label",
    "Memo",
    "Model",
    "Name",
    "Network",
    "Query",
    "Sha256Hex",
    "T",
    "Uuid",
    "check",
    "check_address",
    "check_amount",
    "empty_body_allowed",
    "is_clean_text",
]
