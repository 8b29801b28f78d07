"""The row types: what goes into a table (``New*``) and what comes out (``*Row``).

A ``New*`` lacks what the database fills in itself (``seq``) or what only a
later change sets; each ``*Row`` is one table's full row, built from
``SELECT *`` or ``... RETURNING *``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class NewWallet:
    id: str
    name: str
    chain: str
    network: str
    address: str
    status: str
    created_at: int
    key_ciphertext: bytes
    key_nonce: bytes
    key_salt: bytes
    kdf: str


@dataclass(frozen=True)
class WalletRow:
    seq: int
    id: str
    name: str
    chain: str
    network: str
    address: str
    status: str
    created_at: int
    key_ciphertext: bytes
    key_nonce: bytes
    key_salt: bytes
    kdf: str
    status_reason: str | None = None
    status_changed_at: int | None = None


@dataclass(frozen=True)
class NewSession:
    id: str
    wallet_id: str
    label: str | None
    token_hash: str
    ttl: int
    expires_at: int
    constraints: dict[str, Any] | None
    created_at: int


@dataclass(frozen=True)
class SessionRow:
    id: str
    wallet_id: str
    label: str | None
    token_hash: str
    prev_token_hash: str | None
    prev_valid_until: float | None
    ttl: int
    expires_at: int
    renewal_count: int
    constraints: dict[str, Any] | None
    created_at: int
    last_renewed_at: int | None
    revoked_at: int | None


@dataclass(frozen=True)
class NewTransaction:
    id: str
    wallet_id: str
    session_id: str | None
    type: str
    status: str
    to_address: str | None
    amount: str
    memo: str | None
    created_at: int
    updated_at: int
    signature: str | None = None
    raw: bytes | None = None
    error: str | None = None


@dataclass(frozen=True)
class TransactionRow:
    seq: int
    id: str
    wallet_id: str
    session_id: str | None
    type: str
    status: str
    to_address: str | None
    amount: str
    memo: str | None
    signature: str | None
    raw: bytes | None
    error: str | None
    created_at: int
    updated_at: int
    tier: str | None = None
    execute_at: int | None = None
    approval_expires_at: int | None = None
    decided_at: int | None = None
    reason: str | None = None
    token_mint: str | None = None
    token_symbol: str | None = None
    token_decimals: int | None = None
    token_program: str | None = None
    idempotency_key: str | None = None
    payment_url: str | None = None
    payment_origin: str | None = None
    payment_network: str | None = None
    payment_settlement: str | None = None
    payment_blockhash: str | None = None
    usd_micros: int | None = None
    usd_price: str | None = None
    usd_source: str | None = None
    usd_priced_at: int | None = None
    usd_error: str | None = None
    tier_reason: str | None = None
    network: str | None = None
    nonce: int | None = None
    fee: str | None = None
    replaced: str | None = None  # JSON list of the hashes a fee bump replaced
    broadcast_at: int | None = None
    payment_nonce: str | None = None  # x402 on EVM: the EIP-3009 authorization's nonce
    payment_valid_before: int | None = None

    @property
    def replaced_hashes(self) -> list[str]:
        return list(json.loads(self.replaced)) if self.replaced else []


@dataclass(frozen=True)
class TokenRow:
    """A registry entry; the ``authority_*`` fields only for a local test mint."""

    network: str
    mint: str
    symbol: str
    decimals: int
    program: str | None
    builtin: bool
    created_at: int
    authority_ciphertext: bytes | None = None
    authority_nonce: bytes | None = None
    authority_salt: bytes | None = None
    authority_kdf: str | None = None


# What a transaction update may change; the rest of its row is fixed at insert.
TRANSACTION_CHANGES = frozenset(
    {
        "status",
        "signature",
        "raw",
        "error",
        "updated_at",
        "reason",
        "decided_at",
        "payment_settlement",
        "payment_blockhash",
        "nonce",
        "fee",
        "replaced",
        "broadcast_at",
        "payment_nonce",
        "payment_valid_before",
    }
)


# -- policy, pending, controls: row types ------------------------------------

DAY_SECONDS = 86400
HOUR_SECONDS = 3600
MONTH_SECONDS = 30 * DAY_SECONDS
SETTLED = ("CONFIRMED", "FAILED")
# The instant a send may still go out: kill switch off, wallet ACTIVE, session live.
GATE = (
    "(SELECT active FROM kill_switch WHERE id = 1) = 0 "
    "AND (SELECT status FROM wallets WHERE wallets.id = transactions.wallet_id) = 'ACTIVE' "
    "AND (transactions.session_id IS NULL OR (SELECT revoked_at FROM sessions "
    "WHERE sessions.id = transactions.session_id) IS NULL)"
)


@dataclass(frozen=True)
class Event:
    """Something the audit log and the notifications want to know, written with the change."""

    actor: str  # "owner" | "session:<id>" | "daemon"
    action: str
    wallet_id: str | None = None
    session_id: str | None = None
    transaction_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True)
class PolicyRow:
    wallet_id: str
    version: int
    document: str
    updated_at: int


@dataclass(frozen=True)
class KillSwitchRow:
    active: bool
    reason: str | None
    since: int | None


@dataclass(frozen=True)
class SendInputs:
    wallet_status: str | None
    session_revoked: bool
    kill_switch: bool
    policy: str | None
    policy_version: int
    daily: int
    monthly: int
    sends_this_hour: int
    oldest_this_hour: int | None
    # Dollar totals in micro-dollars, every asset: the wallet's 24 h and 30 days, the
    # session's own 24 h and whole life (sends without a recorded value count 0).
    usd_daily: int = 0
    usd_monthly: int = 0
    session_usd_daily: int = 0
    session_usd_total: int = 0
    # Why the wallet is suspended (``auto: <n> denials within an hour`` or the owner's).
    wallet_reason: str | None = None


@dataclass(frozen=True)
class MasterLockoutRow:
    """Failed master passwords inside the window, and when a lockout ends (0: none)."""

    failures: tuple[float, ...] = ()
    locked_until: float = 0.0


def columns(row: Any) -> dict[str, Any]:
    """A ``New*`` row as column -> SQLite value (JSON for constraints)."""
    values = {f.name: getattr(row, f.name) for f in fields(row)}
    if "constraints" in values:
        values["constraints"] = _json_or_none(values["constraints"])
    return values


def wallet_row(row: sqlite3.Row) -> WalletRow:
    return WalletRow(**dict(row))


def session_row(row: sqlite3.Row) -> SessionRow:
    data = dict(row)
    data["constraints"] = json.loads(data["constraints"]) if data["constraints"] else None
    return SessionRow(**data)


def transaction_row(row: sqlite3.Row) -> TransactionRow:
    return TransactionRow(**dict(row))


def token_row(row: sqlite3.Row) -> TokenRow:
    data = dict(row)
    data["builtin"] = bool(data["builtin"])
    for name in ("authority_ciphertext", "authority_nonce", "authority_salt"):
        if data[name] is not None:
            data[name] = bytes(data[name])
    return TokenRow(**data)


def lockout_row(row: sqlite3.Row | None) -> MasterLockoutRow:
    if row is None:
        return MasterLockoutRow()
    return MasterLockoutRow(tuple(json.loads(row["failures"])), float(row["locked_until"]))


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
