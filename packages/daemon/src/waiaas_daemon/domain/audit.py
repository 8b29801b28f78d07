"""The audit log of SPEC 13: an append-only, hash-chained record of what happened.

Every owner action, master password failure, send request and outcome is one
entry, written by ``append`` on the caller's writer connection inside the
caller's transaction, so an entry exists exactly when what it records does.

Chain: each row stores ``hash = sha256(prev_hash + canonical(entry))`` where

- ``prev_hash`` is the previous row's ``hash`` as 64 lower-case hex
  characters (ASCII), or 64 zeros for seq 1;
- ``canonical(entry)`` is the UTF-8 JSON of exactly these eight fields, keys
  sorted, no spaces, non-ASCII kept as is (``ensure_ascii=False``), absent
  values as ``null``: ``seq, at, actor, action, walletId, sessionId,
  transactionId, details``.

``audit_head`` (one row) holds the seq and hash of the last entry, updated in
the same transaction, so deleting the newest rows is found too. The chain
finds edits made with a database tool; it is not a signature: whoever can
rewrite every row and the head can forge a consistent log.

Actions (the fixed vocabulary; ``append`` refuses any other):
wallet.create, wallet.rename, wallet.terminate, wallet.suspend, wallet.resume,
wallet.auto_suspend, session.create, session.revoke, session.renew,
mcp_token.create, policy.set, policy.clear, pending.approve, pending.reject,
kill_switch.on, kill_switch.off, master.failure, master.lockout,
send.requested, send.allowed, send.denied, send.queued, send.pending,
send.cancelled, send.expired, send.submitted, send.confirmed, send.failed,
notify.test, telegram.link, telegram.unlink, telegram.foreign, telegram.refused.

Actors: ``owner``, ``owner:telegram:<chat id>`` (the owner deciding from the
linked Telegram chat), ``telegram:<chat id>`` (someone else writing to the
bot), ``daemon``, or ``session:<id>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import BASE58_ADDRESS

if TYPE_CHECKING:  # storage imports these modules for its schema
    from waiaas_daemon.storage.interface import Connection

GENESIS = "0" * 64

ACTIONS = frozenset(
    {
        "wallet.create",
        "wallet.rename",
        "wallet.terminate",
        "wallet.suspend",
        "wallet.resume",
        "wallet.auto_suspend",
        "session.create",
        "session.revoke",
        "session.renew",
        "mcp_token.create",
        "policy.set",
        "policy.clear",
        "pending.approve",
        "pending.reject",
        "kill_switch.on",
        "kill_switch.off",
        "master.failure",
        "master.lockout",
        "send.requested",
        "send.allowed",
        "send.denied",
        "send.queued",
        "send.pending",
        "send.cancelled",
        "send.expired",
        "send.submitted",
        "send.confirmed",
        "send.failed",
        "notify.test",
        "telegram.link",
        "telegram.unlink",
        "telegram.foreign",
        "telegram.refused",
        "oauth.deny",
        "oauth.revoke",
        "oauth.refresh_reuse",
        "oauth.code_reuse",
    }
)

# A details key whose name says it holds a credential is refused, at any depth.
_SECRET_NAME = re.compile(
    r"pass(word|phrase)?|secret|token|private|priv_?key|mnemonic|seed|credential|"
    r"authorization|cookie|api_?key|^key$|keypair|signing_?key|ciphertext|nonce|salt",
    re.IGNORECASE,
)
# Names that match the pattern above but hold public data.
_PUBLIC_NAMES = frozenset(
    {"publicKey", "tokenMint", "tokenProgram", "tokenAccount", "tokens", "allowedTokens"}
)
# A key that is an address (a mint under constraints.tokens or policy.tokens) is public,
# whatever letters it happens to contain ("seed", "salt", "Token...").
_ADDRESS_KEY = re.compile(BASE58_ADDRESS)
# Values that are credentials whatever their key is called (SPEC 5 session tokens).
_SECRET_VALUE = re.compile(r"wai_sess_|wai_mcp_")
_ACTOR = re.compile(r"(owner:)?telegram:-?[0-9]{1,20}|owner|daemon|session:[0-9a-f-]{1,64}")

MAX_LIMIT = 100


class SecretInAudit(ValueError):
    """A caller tried to put a password, token or key into an audit entry (a bug)."""


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


def check_details(details: Any, path: str = "details") -> None:
    """Raise SecretInAudit if anything in ``details`` looks like a credential."""
    if isinstance(details, Mapping):
        for key, value in details.items():
            if not isinstance(key, str):
                raise SecretInAudit(f"{path}: keys must be strings")
            public = key in _PUBLIC_NAMES or _ADDRESS_KEY.match(key)
            if not public and _SECRET_NAME.search(key):
                raise SecretInAudit(f"{path}.{key}: a secret has no place in the audit log")
            check_details(value, f"{path}.{key}")
    elif isinstance(details, list | tuple):
        for index, value in enumerate(details):
            check_details(value, f"{path}[{index}]")
    elif isinstance(details, str) and _SECRET_VALUE.search(details):
        raise SecretInAudit(f"{path}: holds a token")


def _entry(
    seq: int,
    at: int,
    actor: str,
    action: str,
    wallet_id: str | None,
    session_id: str | None,
    transaction_id: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "walletId": wallet_id,
        "sessionId": session_id,
        "transactionId": transaction_id,
        "details": dict(details),
    }


@dataclass
class Head:
    """The chain's last (seq, hash) as this process last wrote it.

    Where one process writes the database (SQLite), ``append`` starts from it
    instead of reading the head row: one statement fewer per entry. It is only a
    guess, checked by the head's update itself (compare-and-swap): after a rolled
    back transaction, or anyone else's write, the update matches nothing and the
    row is read after all.
    """

    seq: int
    hash: str


async def append(
    conn: Connection,
    *,
    at: float,
    actor: str,
    action: str,
    wallet_id: str | None = None,
    session_id: str | None = None,
    transaction_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    head: Head | None = None,
) -> dict[str, Any]:
    """Append one entry; call inside the caller's ``Database.transaction()``.

    ``head``: where the chain ended at this process's last append (see ``Head``).
    Returns the entry as the API shows it (with ``hash``).
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if not _ACTOR.fullmatch(actor):
        raise ValueError(
            "audit actor must be owner, daemon, session:<id> or [owner:]telegram:<chat>, "
            f"not {actor!r}"
        )
    details = details or {}
    check_details(details)
    while True:
        guessed = head is not None
        if head is None:
            head = await _read_head(conn)
        seq = head.seq + 1
        entry = _entry(seq, int(at), actor, action, wallet_id, session_id, transaction_id, details)
        digest = entry_hash(head.hash, entry)
        swapped = await conn.execute_fetchall(
            "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ? "
            "RETURNING seq",
            (seq, digest, head.seq, head.hash),
        )
        if list(swapped):
            break
        if not guessed:
            raise AssertionError("audit_head changed under its lock")
        head = None  # the guess was stale: read the row
    await conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, wallet_id, session_id, transaction_id, "
        "details, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            entry["at"],
            actor,
            action,
            wallet_id,
            session_id,
            transaction_id,
            canonical(entry["details"]).decode(),
            digest,
        ),
    )
    return {**entry, "hash": digest}


async def _read_head(conn: Connection) -> Head:
    # One chain whatever the number of daemons: on PostgreSQL the head row stays
    # locked until this transaction commits, so the next append reads its result.
    head_sql = "SELECT seq, hash FROM audit_head WHERE id = 1" + _for_update(conn)  # noqa: S608
    row = next(iter(await conn.execute_fetchall(head_sql)), None)
    assert row is not None, "audit_head has its row from the migration on"
    return Head(row[0], row[1])


def _for_update(conn: Any) -> str:
    # storage.interface.for_update; not imported: storage imports this module's schema.
    return " FOR UPDATE" if getattr(conn, "dialect", "sqlite") == "postgresql" else ""


def _from_row(row: Any) -> dict[str, Any]:
    entry = _entry(
        row["seq"],
        row["at"],
        row["actor"],
        row["action"],
        row["wallet_id"],
        row["session_id"],
        row["transaction_id"],
        json.loads(row["details"]),
    )
    return {**entry, "hash": row["hash"]}


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"audit:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "audit" or not value.isdigit():
            raise ValueError
        return int(value)
    except ValueError:
        raise WaiaasError("INVALID_REQUEST", "cursor: not a cursor this API gave out") from None


async def list_entries(
    reader: Connection,
    *,
    wallet_id: str | None = None,
    action: str | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    """``{items, cursor}`` newest first; ``cursor`` is None after the last page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise WaiaasError("INVALID_REQUEST", f"limit: must be 1..{MAX_LIMIT}")
    if action is not None and action not in ACTIONS:
        raise WaiaasError("INVALID_REQUEST", "action: not an audit action")
    before = decode_cursor(cursor) if cursor else 2**63 - 1
    where: list[str] = ["seq < ?"]
    params: list[Any] = [before]
    if wallet_id is not None:
        where.append("wallet_id = ?")
        params.append(wallet_id)
    if action is not None:
        where.append("action = ?")
        params.append(action)
    rows = list(
        await reader.execute_fetchall(
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} "  # noqa: S608 - fixed names
            "ORDER BY seq DESC LIMIT ?",
            (*params, limit + 1),
        )
    )
    items = [_from_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    return {"items": items, "cursor": encode_cursor(items[-1]["seq"]) if more else None}


async def of_transaction(reader: Connection, transaction_id: str) -> list[dict[str, Any]]:
    """Every entry about one send, oldest first: its story from request to outcome."""
    rows = await reader.execute_fetchall(
        "SELECT * FROM audit_log WHERE transaction_id = ? ORDER BY seq", (transaction_id,)
    )
    return [_from_row(r) for r in rows]


async def policy_history(reader: Connection) -> dict[str, list[tuple[int, str | None]]]:
    """Each wallet's policies in log order: (seq, canonical text, or None once cleared)."""
    rows = await reader.execute_fetchall(
        "SELECT wallet_id, seq, action, details FROM audit_log "
        "WHERE action IN ('policy.set', 'policy.clear') AND wallet_id IS NOT NULL ORDER BY seq"
    )
    history: dict[str, list[tuple[int, str | None]]] = {}
    for r in rows:
        text = json.loads(r["details"]).get("policy") if r["action"] == "policy.set" else None
        history.setdefault(r["wallet_id"], []).append(
            (r["seq"], text if isinstance(text, str) else None)
        )
    return history


async def first_entries(reader: Connection, transaction_ids: list[str]) -> dict[str, int]:
    """The seq of each send's first entry: the moment it was asked, in log order."""
    found: dict[str, int] = {}
    for start in range(0, len(transaction_ids), 500):
        chunk = transaction_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = await reader.execute_fetchall(
            "SELECT transaction_id, MIN(seq) AS seq FROM audit_log "  # noqa: S608 - marks only
            f"WHERE transaction_id IN ({marks}) GROUP BY transaction_id",
            tuple(chunk),
        )
        found.update({r["transaction_id"]: r["seq"] for r in rows})
    return found


async def last_seen(reader: Connection) -> dict[str, float]:
    """When each session last did something itself that the log records (a send, a renewal)."""
    rows = await reader.execute_fetchall(
        "SELECT session_id, MAX(at) AS at FROM audit_log WHERE session_id IS NOT NULL "
        "AND actor LIKE 'session:%' GROUP BY session_id"
    )
    return {r["session_id"]: r["at"] for r in rows}


_PAGE = 1000


def _check_row(row: Any, expected_seq: int, prev_hash: str) -> int | None:
    """The first bad seq this row shows, or None when it continues the chain."""
    if row["seq"] != expected_seq:
        return expected_seq  # rows were deleted before this one
    try:
        entry = _from_row(row)
    except (ValueError, TypeError):
        return row["seq"]
    entry.pop("hash")
    return None if entry_hash(prev_hash, entry) == row["hash"] else row["seq"]


async def verify(reader: Connection) -> dict[str, Any]:
    """Recompute the chain: ``{ok, entries, firstBadSeq}``."""
    head = list(await reader.execute_fetchall("SELECT seq, hash FROM audit_head"))
    expected, prev_hash, entries, bad = 1, GENESIS, 0, None
    while bad is None:
        rows = list(
            await reader.execute_fetchall(
                "SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?", (expected, _PAGE)
            )
        )
        for row in rows:
            entries += 1
            bad = _check_row(row, expected, prev_hash)
            if bad is not None:
                break
            expected, prev_hash = expected + 1, row["hash"]
        if len(rows) < _PAGE:
            break
    if bad is None:
        bad = _check_head(head, expected - 1, prev_hash)
    if bad is not None:
        entries = await _count(reader)
    return {"ok": bad is None, "entries": entries, "firstBadSeq": bad}


def _check_head(head: Any, last_seq: int, last_hash: str) -> int | None:
    """Compare the chain's end with the head row written by every append."""
    if len(head) != 1 or head[0]["seq"] > last_seq:
        return last_seq + 1  # the newest rows were deleted (or the head itself)
    if head[0]["seq"] < last_seq:
        return head[0]["seq"] + 1  # rows were added without going through append
    return None if head[0]["hash"] == last_hash else last_seq


async def _count(reader: Connection) -> int:
    rows = list(await reader.execute_fetchall("SELECT COUNT(*) FROM audit_log"))
    return int(rows[0][0])
