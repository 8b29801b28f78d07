"""The OAuth tables: clients, authorization requests, grants, codes and tokens.

Functions over ``Database`` like the Telegram bot's (portable to PostgreSQL:
``RETURNING`` instead of ``rowcount``). Every id, code and token arrives here
already hashed; a grant is a row beside its session, never instead of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waiaas_daemon.storage.interface import Storage as Database
    from waiaas_daemon.storage.rows import Event


@dataclass(frozen=True)
class ClientRow:
    id: str
    kind: str  # "registered" (RFC 7591) | "document" (a client ID metadata document)
    name: str | None
    redirect_uris: tuple[str, ...]
    application_type: str  # "web" | "native"
    auth_method: str  # "none" | "client_secret_post" | "client_secret_basic"
    secret_hash: str | None
    metadata: dict[str, Any]
    created_at: int


@dataclass(frozen=True)
class RequestRow:
    id_hash: str
    client_id: str
    redirect_uri: str
    state: str
    code_challenge: str
    scope: str
    resource: str
    issuer: str
    created_at: int
    expires_at: int


@dataclass(frozen=True)
class CodeRow:
    code_hash: str
    session_id: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    expires_at: int
    used_at: int | None


@dataclass(frozen=True)
class TokenRow:
    token_hash: str
    session_id: str
    kind: str  # "access" | "refresh"
    scope: str
    expires_at: int
    created_at: int
    used_at: int | None
    # From the grant: who holds it and for what.
    client_id: str
    resource: str


def _client(row: Any) -> ClientRow:
    return ClientRow(
        row["id"],
        row["kind"],
        row["name"],
        tuple(json.loads(row["redirect_uris"])),
        row["application_type"],
        row["auth_method"],
        row["secret_hash"],
        json.loads(row["metadata"]),
        row["created_at"],
    )


async def get_client(db: Database, client_id: str) -> ClientRow | None:
    rows = list(
        await db.reader.execute_fetchall("SELECT * FROM oauth_clients WHERE id = ?", (client_id,))
    )
    return _client(rows[0]) if rows else None


async def put_client(db: Database, client: ClientRow, *, forget_unused_before: int) -> None:
    """Insert (or refresh a fetched document's) client; registrations never used by a
    grant and older than ``forget_unused_before`` go, so anonymous registration cannot
    fill the database."""
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM oauth_clients WHERE created_at < ? AND id NOT IN "
            "(SELECT client_id FROM oauth_grants)",
            (forget_unused_before,),
        )
        await conn.execute(
            "INSERT INTO oauth_clients (id, kind, name, redirect_uris, application_type, "
            "auth_method, secret_hash, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
            "redirect_uris = excluded.redirect_uris, application_type = excluded.application_type, "
            "metadata = excluded.metadata, created_at = excluded.created_at",
            (
                client.id,
                client.kind,
                client.name,
                json.dumps(list(client.redirect_uris)),
                client.application_type,
                client.auth_method,
                client.secret_hash,
                json.dumps(client.metadata),
                client.created_at,
            ),
        )


async def add_request(db: Database, request: RequestRow) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "DELETE FROM oauth_requests WHERE expires_at <= ?", (request.created_at,)
        )
        await conn.execute(
            "INSERT INTO oauth_requests (id_hash, client_id, redirect_uri, state, "
            "code_challenge, scope, resource, issuer, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request.id_hash,
                request.client_id,
                request.redirect_uri,
                request.state,
                request.code_challenge,
                request.scope,
                request.resource,
                request.issuer,
                request.created_at,
                request.expires_at,
            ),
        )


def _request(row: Any) -> RequestRow:
    return RequestRow(*(row[name] for name in RequestRow.__dataclass_fields__))


async def get_request(db: Database, id_hash: str, now: int) -> RequestRow | None:
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT * FROM oauth_requests WHERE id_hash = ? AND expires_at > ?", (id_hash, now)
        )
    )
    return _request(rows[0]) if rows else None


async def take_request(
    db: Database, id_hash: str, now: int, events: Sequence[Event]
) -> RequestRow | None:
    """The owner's answer spends the request: of two answers exactly one gets it."""
    async with db.transaction() as conn:
        rows = list(
            await conn.execute_fetchall(
                "DELETE FROM oauth_requests WHERE id_hash = ? AND expires_at > ? RETURNING *",
                (id_hash, now),
            )
        )
        if rows and events:
            await db.emit_on(conn, events)
    return _request(rows[0]) if rows else None


async def add_grant(
    db: Database,
    *,
    session_id: str,
    client_id: str,
    scope: str,
    resource: str,
    code: CodeRow,
    now: int,
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO oauth_grants (session_id, client_id, scope, resource, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (session_id, client_id, scope, resource, now),
        )
        await conn.execute(
            "INSERT INTO oauth_codes (code_hash, session_id, client_id, redirect_uri, "
            "code_challenge, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                code.code_hash,
                session_id,
                client_id,
                code.redirect_uri,
                code.code_challenge,
                code.expires_at,
            ),
        )


async def spend_code(db: Database, code_hash: str, now: int) -> tuple[CodeRow | None, bool]:
    """The code's row and whether this call spent it (False: it was spent before)."""
    async with db.transaction() as conn:
        spent = list(
            await conn.execute_fetchall(
                "UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL "
                "RETURNING *",
                (now, code_hash),
            )
        )
        if spent:
            return _code(spent[0]), True
        rows = list(
            await conn.execute_fetchall(
                "SELECT * FROM oauth_codes WHERE code_hash = ?", (code_hash,)
            )
        )
    return (_code(rows[0]) if rows else None), False


def _code(row: Any) -> CodeRow:
    return CodeRow(*(row[name] for name in CodeRow.__dataclass_fields__))


async def grant_of(db: Database, session_id: str) -> tuple[str, str, str] | None:
    """(client_id, scope, resource) of the session's grant, None for any other session."""
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT client_id, scope, resource FROM oauth_grants WHERE session_id = ?",
            (session_id,),
        )
    )
    return (rows[0]["client_id"], rows[0]["scope"], rows[0]["resource"]) if rows else None


async def add_tokens(
    db: Database,
    tokens: Sequence[tuple[str, str, str, int]],
    *,
    session_id: str,
    now: int,
    rotated: str | None = None,
) -> bool:
    """Insert ``(hash, kind, scope, expires_at)`` rows; with ``rotated``, that refresh
    token is marked used in the same transaction, and nothing is inserted (False) when
    another request rotated it first."""
    async with db.transaction() as conn:
        if rotated is not None:
            won = list(
                await conn.execute_fetchall(
                    "UPDATE oauth_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                    "RETURNING token_hash",
                    (now, rotated),
                )
            )
            if not won:
                return False
        # Expired access tokens are of no use to anyone: they go as new ones come.
        await conn.execute(
            "DELETE FROM oauth_tokens WHERE session_id = ? AND kind = 'access' AND expires_at <= ?",
            (session_id, now),
        )
        for token_hash, kind, scope, expires_at in tokens:
            await conn.execute(
                "INSERT INTO oauth_tokens (token_hash, session_id, kind, scope, expires_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_hash, session_id, kind, scope, expires_at, now),
            )
    return True


async def get_token(db: Database, token_hash: str) -> TokenRow | None:
    rows = list(
        await db.reader.execute_fetchall(
            "SELECT t.*, g.client_id, g.resource FROM oauth_tokens t "
            "JOIN oauth_grants g ON g.session_id = t.session_id WHERE t.token_hash = ?",
            (token_hash,),
        )
    )
    if not rows:
        return None
    return TokenRow(*(rows[0][name] for name in TokenRow.__dataclass_fields__))


async def drop_token(db: Database, token_hash: str) -> None:
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM oauth_tokens WHERE token_hash = ?", (token_hash,))


async def grants(db: Database) -> dict[str, tuple[str, str | None, str]]:
    """session id -> (client_id, client name, scope) of every grant, for the owner's lists."""
    rows = await db.reader.execute_fetchall(
        "SELECT g.session_id, g.client_id, c.name, g.scope FROM oauth_grants g "
        "LEFT JOIN oauth_clients c ON c.id = g.client_id"
    )
    return {r["session_id"]: (r["client_id"], r["name"], r["scope"]) for r in rows}
