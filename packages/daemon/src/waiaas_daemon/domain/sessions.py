"""Session tokens: create (and provision MCP tokens), authenticate, renew, revoke."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_core.paths import token_path
from waiaas_core.tokens import SessionClaims, sign_session_token, verify_session_token
from waiaas_daemon.domain import controls
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.domain.token_files import TokenFileUpdate
from waiaas_daemon.storage import Event, LimitReached, NewSession, SessionRow

MCP_LABEL = "mcp"
#: A remote MCP session (``waiaas mcp setup --http``): its first token is a static bearer
#: for ``/mcp`` and the daemon renews the session itself (docs/notes/remote-mcp.md).
HTTP_MCP_LABEL = "mcp-http"
#: Labels of which a wallet has one active session: a new one replaces (revokes) the
#: earlier and keeps its constraints unless given. Neither touches the other.
REPLACED_LABELS = (MCP_LABEL, HTTP_MCP_LABEL)


@dataclass(frozen=True)
class Issued:
    session: SessionRow
    token: str


@dataclass(frozen=True)
class Authenticated:
    claims: SessionClaims
    session: SessionRow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def absolute_expiry(state: DaemonState, session: SessionRow) -> int:
    # From the setting in force now, so an operator's lower limit applies at once.
    return session.created_at + state.settings.absolute_lifetime


def status_of(state: DaemonState, session: SessionRow) -> str:
    if session.revoked_at is not None:
        return "REVOKED"
    if session.expires_at <= state.now():
        return "EXPIRED"
    return "ACTIVE"


def _sign(state: DaemonState, session_id: str, wallet_id: str, iat: int, exp: int) -> str:
    return sign_session_token(state.jwt_secret, session_id, wallet_id, iat, exp)


async def issue(
    state: DaemonState,
    wallet_id: str,
    *,
    ttl: int,
    constraints: dict[str, Any] | None = None,
    label: str | None = None,
    details: dict[str, Any] | None = None,
) -> Issued:
    """A session; ``constraints`` None (not given) keeps a replaced mcp session's caps.

    ``details`` join the ``session.create`` audit entry (an OAuth grant names its client).
    """
    return await _create(
        state, wallet_id, ttl=ttl, constraints=constraints, label=label, details=details
    )


async def provision_mcp(
    state: DaemonState, wallet_id: str, *, ttl: int, constraints: dict[str, Any] | None = None
) -> Issued:
    """An ``mcp`` session (earlier ones revoked) whose token lands in the wallet's token file.

    The file is replaced only once the session is committed (token_files).
    """
    path = token_path(state.data_dir, wallet_id)
    return await _create(
        state, wallet_id, ttl=ttl, constraints=constraints, label=MCP_LABEL, token_file=path
    )


async def _create(
    state: DaemonState,
    wallet_id: str,
    *,
    ttl: int,
    constraints: dict[str, Any] | None = None,
    label: str | None = None,
    token_file: Path | None = None,
    details: dict[str, Any] | None = None,
) -> Issued:
    await controls.refuse_if_kill_switch(state)
    wallet = await state.db.get_wallet(wallet_id)
    if wallet is None:
        raise WaiaasError("WALLET_NOT_FOUND")
    # A suspension refuses the wallet's sends only (SPEC 13): the owner may still
    # provision a session, e.g. to recover the agent's token before resuming.
    if wallet.status == "TERMINATED":
        raise WaiaasError("WALLET_TERMINATED")
    if label in REPLACED_LABELS and constraints is None:
        # A new mcp (or mcp-http) session replaces the old one: re-running setup to
        # recover must never silently lift a limit. ``{}`` (given, empty) clears them.
        constraints = await current_mcp_constraints(state, wallet_id, label)
    constraints = constraints or None
    now = state.now()
    session_id = str(uuid.uuid4())
    expires_at = min(now + ttl, now + state.settings.absolute_lifetime)
    token = _sign(state, session_id, wallet_id, now, expires_at)
    new = NewSession(
        id=session_id,
        wallet_id=wallet_id,
        label=label,
        token_hash=token_hash(token),
        ttl=ttl,
        expires_at=expires_at,
        constraints=constraints,
        created_at=now,
    )
    update = (
        None
        if token_file is None
        else TokenFileUpdate(token_file, token, create=True, required=True)
    )
    try:
        session = await state.db.insert_session(
            new,
            limit=state.settings.max_sessions_per_wallet,
            now=now,
            replace_label=label if label in REPLACED_LABELS else None,
            before_commit=None if update is None else update.before_commit,
            after_commit=None if update is None else update.after_commit,
            events=[
                Event(
                    "owner",
                    "session.create" if token_file is None else "mcp_token.create",
                    wallet_id,
                    session_id,
                    details={
                        "label": label,
                        "expiresAt": expires_at,
                        "constraints": constraints,
                        "walletName": wallet.name,
                        **(details or {}),
                    },
                )
            ],
        )
    except LimitReached:
        raise WaiaasError(
            "SESSION_LIMIT_EXCEEDED",
            f"The wallet already has {state.settings.max_sessions_per_wallet} active sessions.",
            hint="Revoke one with DELETE /v1/sessions/{id} (waiaas session revoke ID).",
        ) from None
    except BaseException:
        if update is not None:
            with anyio.CancelScope(shield=True):
                await update.discard()
        raise
    return Issued(session, token)


TOKEN_CACHE_SIZE = 10_000


def verify(state: DaemonState, token: str) -> SessionClaims:
    """verify_session_token, remembering tokens already verified.

    A token's signature and claims never change, so only its expiry needs
    checking again; the cache saves the JWT decode on every request.
    """
    now = state.clock()
    claims = state.verified_tokens.get(token)
    if claims is None:
        claims = verify_session_token(token, state.jwt_secret, now=now)
        if len(state.verified_tokens) >= TOKEN_CACHE_SIZE:
            state.verified_tokens.clear()
        state.verified_tokens[token] = claims
    elif claims.expires_at <= now:
        raise WaiaasError("SESSION_EXPIRED")
    return claims


async def authenticate(state: DaemonState, token: str) -> Authenticated:
    """sessionAuth: valid signature, unexpired, session live, token current or in grace."""
    claims = verify(state, token)
    session = await state.db.get_session(claims.session_id)
    if session is None or session.wallet_id != claims.wallet_id:
        raise WaiaasError("INVALID_TOKEN", "The token's session does not exist.")
    if session.revoked_at is not None:
        raise WaiaasError("SESSION_REVOKED")
    digest = token_hash(token)
    if digest == session.token_hash:
        return Authenticated(claims, session)
    if digest != session.prev_token_hash:
        # Renewed through another daemon a moment ago? Its row, not the one kept here.
        fresh = await state.db.refresh_session(claims.session_id)
        if fresh is not None and fresh.revoked_at is None and digest == fresh.token_hash:
            return Authenticated(claims, fresh)
    in_grace = (
        digest == session.prev_token_hash
        and session.prev_valid_until is not None
        and state.clock() < session.prev_valid_until
    )
    if in_grace:
        return Authenticated(claims, session)
    raise WaiaasError("INVALID_TOKEN", "The token has been replaced by a renewal.")


async def authenticate_remote(state: DaemonState, token: str) -> Authenticated:
    """sessionAuth as ``/mcp`` applies it: ``authenticate``, and for an ``mcp-http``
    session its original token too, for as long as the session lives.

    The original token is the one the daemon signed at creation (``iat`` is the
    session's ``created_at``); its own ``exp`` no longer counts, the session's row
    does: not revoked, not past its renewed expiry, not past the absolute lifetime.
    """
    try:
        return await authenticate(state, token)
    except WaiaasError as exc:
        if exc.code not in ("SESSION_EXPIRED", "INVALID_TOKEN"):
            raise
        # Signature and claims only (now=0): the row below judges the lifetime.
        claims = verify_session_token(token, state.jwt_secret, now=0)
        session = await state.db.get_session(claims.session_id)
        if session is None or not _is_original(session, claims):
            raise
    if session.revoked_at is not None:
        raise WaiaasError("SESSION_REVOKED")
    now = state.clock()
    if session.expires_at <= now or absolute_expiry(state, session) <= now:
        raise WaiaasError("SESSION_EXPIRED")
    return Authenticated(claims, session)


def _is_original(session: SessionRow, claims: SessionClaims) -> bool:
    return (
        session.label == HTTP_MCP_LABEL
        and session.wallet_id == claims.wallet_id
        and claims.issued_at == session.created_at
    )


async def renew_remote(state: DaemonState, session: SessionRow) -> SessionRow:
    """The daemon renews an ``mcp-http`` session when a request arrives past half its TTL.

    The same bounds as ``PUT /renew``: max_renewals and the absolute lifetime; the new
    token never leaves the daemon (the client keeps its original bearer). A concurrent
    request that renewed first wins the compare-and-swap; this one goes on unrenewed.
    """
    if session.label != HTTP_MCP_LABEL:
        return session
    return await renew_by_daemon(state, session)


async def renew_by_daemon(state: DaemonState, session: SessionRow) -> SessionRow:
    """Renew a session whose token never leaves the daemon (``mcp-http``, an OAuth grant)
    once half its TTL has passed since its last renewal, within ``max_renewals`` and
    the absolute lifetime; otherwise, or when another request renewed first, unchanged."""
    if session.revoked_at is not None:
        return session
    now = state.clock()
    issued_at = session.last_renewed_at or session.created_at
    if now - issued_at < session.ttl / 2 or session.renewal_count >= state.settings.max_renewals:
        return session
    absolute = absolute_expiry(state, session)
    expires_at = min(int(now) + session.ttl, absolute)
    if expires_at <= session.expires_at:
        return session  # capped by the absolute lifetime: a renewal would gain nothing
    new_token = _sign(state, session.id, session.wallet_id, int(now), expires_at)
    renewed = await state.db.swap_session_token(
        session.id,
        session.token_hash,
        token_hash(new_token),
        expires_at=expires_at,
        now=int(now),
        prev_valid_until=now + state.settings.renewal_grace,
        events=[
            Event(
                f"session:{session.id}",
                "session.renew",
                session.wallet_id,
                session.id,
                details={
                    "expiresAt": expires_at,
                    "renewal": session.renewal_count + 1,
                    "by": "daemon",
                },
            )
        ],
    )
    return renewed or session


async def renew(state: DaemonState, session_id: str, token: str) -> Issued:
    """The seven checks of SPEC section 5, in order, then compare-and-swap."""
    claims = verify(state, token)  # 1
    session = await state.db.get_session(session_id)
    if session is None or claims.session_id != session_id:  # 2
        raise WaiaasError("SESSION_NOT_FOUND")
    if session.revoked_at is not None:  # 3
        raise WaiaasError("SESSION_REVOKED")
    old_hash = token_hash(token)
    if old_hash != session.token_hash:  # 4
        raise WaiaasError("RENEWAL_CONFLICT", hint="Read the current token from the token file.")
    if session.renewal_count >= state.settings.max_renewals:  # 5
        raise WaiaasError("RENEWAL_LIMIT_EXCEEDED", hint="Create a new session.")
    now = state.clock()
    absolute = absolute_expiry(state, session)
    if now >= absolute:  # 6
        raise WaiaasError("SESSION_LIFETIME_EXPIRED", hint="Create a new session.")
    ttl = claims.expires_at - claims.issued_at
    if now - claims.issued_at < ttl / 2:  # 7
        wait = int(claims.issued_at + ttl / 2 - now) + 1
        raise WaiaasError("RENEWAL_TOO_EARLY", hint=f"Renew after half the TTL, in {wait} s.")
    issued_at = int(now)
    expires_at = min(issued_at + session.ttl, absolute)
    new_token = _sign(state, session.id, session.wallet_id, issued_at, expires_at)
    update = _token_file_update(state, session, new_token)
    try:
        renewed = await state.db.swap_session_token(
            session_id,
            old_hash,
            token_hash(new_token),
            expires_at=expires_at,
            now=issued_at,
            prev_valid_until=now + state.settings.renewal_grace,
            before_commit=None if update is None else update.before_commit,
            after_commit=None if update is None else update.after_commit,
            events=[
                Event(
                    f"session:{session.id}",
                    "session.renew",
                    session.wallet_id,
                    session.id,
                    details={"expiresAt": expires_at, "renewal": session.renewal_count + 1},
                )
            ],
        )
    except BaseException:
        if update is not None:
            with anyio.CancelScope(shield=True):
                await update.discard()
        raise
    if renewed is None:
        raise WaiaasError("RENEWAL_CONFLICT", hint="Read the current token from the token file.")
    return Issued(renewed, new_token)


def _token_file_update(
    state: DaemonState, session: SessionRow, new_token: str
) -> TokenFileUpdate | None:
    """For an MCP session, the renewed token goes into its existing token file.

    If the daemon dies after committing a renewal but before its answer reaches
    the MCP server, the server's retry earns a 409 and it re-reads the file:
    the token it never received is there. The file changes only after the
    commit (token_files), so it never holds a token the database does not.
    """
    if session.label != MCP_LABEL:
        return None
    path = token_path(state.data_dir, session.wallet_id)
    return TokenFileUpdate(path, new_token, create=False, required=False)


async def revoke(state: DaemonState, session_id: str, *, actor: str = "owner") -> SessionRow:
    session = await state.db.get_session(session_id)
    event = Event(actor, "session.revoke", session.wallet_id if session else None, session_id)
    revoked = await state.db.revoke_session(session_id, state.now(), [event])
    if revoked is None:
        raise WaiaasError("SESSION_NOT_FOUND")
    return revoked


async def current_mcp_constraints(
    state: DaemonState, wallet_id: str, label: str | None = MCP_LABEL
) -> dict[str, Any] | None:
    """The constraints of the wallet's active ``mcp`` (or ``label``) session, which a new
    one inherits."""
    now = state.now()
    for session in reversed(await state.db.list_sessions(wallet_id)):
        if session.label == label and session.revoked_at is None and session.expires_at > now:
            return session.constraints
    return None
