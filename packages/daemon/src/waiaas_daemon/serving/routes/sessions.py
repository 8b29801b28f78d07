"""Sessions: create, list, revoke (masterAuth); renew and read itself (the token)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import policy, sessions
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.policy import Policy
from waiaas_daemon.schemas.sessions import (
    Constraints,
    OwnSession,
    Session,
    SessionCreate,
    SessionCreated,
    SessionList,
    SessionListQuery,
    SessionRenewed,
    SessionRevoked,
)
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import bearer_token, state_of
from waiaas_daemon.serving.routes.controls import kill_switch_model, wallet_control
from waiaas_daemon.storage import SessionRow

SESSION_ID = {"id": "Session id."}
RENEWAL_ERRORS = (
    "RENEWAL_TOO_EARLY",
    "SESSION_NOT_FOUND",
    "RENEWAL_CONFLICT",
    "RENEWAL_LIMIT_EXCEEDED",
    "SESSION_LIFETIME_EXPIRED",
)


def session_model(state: DaemonState, session: SessionRow) -> Session:
    return Session(
        id=session.id,
        wallet_id=session.wallet_id,
        label=session.label,
        status=sessions.status_of(state, session),  # type: ignore[arg-type]
        renewal_count=session.renewal_count,
        max_renewals=state.settings.max_renewals,
        expires_at=session.expires_at,
        absolute_expires_at=sessions.absolute_expiry(state, session),
        created_at=session.created_at,
        last_renewed_at=session.last_renewed_at,
        constraints=session.constraints,
    )


def ttl_of(state: DaemonState, expires_in: int | None) -> int:
    """``expiresIn`` within the operator's bounds, or the default TTL."""
    settings = state.settings
    if expires_in is None:
        return settings.session_ttl
    if not settings.min_session_ttl <= expires_in <= settings.max_session_ttl:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"expiresIn: must be between {settings.min_session_ttl} and {settings.max_session_ttl}",
        )
    return expires_in


def constraints_dict(constraints: Constraints | None) -> dict[str, object] | None:
    return None if constraints is None else msgspec.to_builtins(constraints)


async def create_session(request: Request, body: SessionCreate) -> SessionCreated:
    """Issue a session token for a wallet."""
    state = state_of(request)
    issued = await sessions.issue(
        state,
        body.wallet_id,
        ttl=ttl_of(state, body.expires_in),
        constraints=constraints_dict(body.constraints),
        label=body.label,
    )
    return SessionCreated(
        id=issued.session.id,
        token=issued.token,
        expires_at=issued.session.expires_at,
        wallet_id=body.wallet_id,
    )


async def list_sessions(request: Request, query: SessionListQuery) -> SessionList:
    """Sessions of one wallet, or of all."""
    state = state_of(request)
    rows = await state.db.list_sessions(query.wallet_id)
    return SessionList(items=[session_model(state, s) for s in rows])


async def revoke_session(request: Request) -> SessionRevoked:
    """Revoke a session (idempotent)."""
    session_id = path_id(request, "id", "SESSION_NOT_FOUND")
    session = await sessions.revoke(state_of(request), session_id)
    return SessionRevoked(id=session.id, status="REVOKED")


async def renew_session(request: Request) -> SessionRenewed:
    """Exchange the token for a new one with the same TTL."""
    state = state_of(request)
    # A malformed id is simply not the token's session (check 2); renew() runs
    # check 1 on the token first.
    issued = await sessions.renew(state, request.path_params["id"], bearer_token(request))
    return SessionRenewed(
        id=issued.session.id,
        token=issued.token,
        expires_at=issued.session.expires_at,
        renewal_count=issued.session.renewal_count,
        max_renewals=state.settings.max_renewals,
        absolute_expires_at=sessions.absolute_expiry(state, issued.session),
    )


async def get_own_session(request: Request) -> OwnSession:
    """The token's own session: renewals, limits, constraints; the kill switch, the wallet."""
    state = state_of(request)
    session: SessionRow = request.state.auth.session
    wallet = await state.db.get_wallet(session.wallet_id)
    if wallet is None:  # pragma: no cover - a session's wallet is never deleted
        raise WaiaasError("WALLET_NOT_FOUND")
    budget = None
    if policy.usd_binds(Policy(), session.constraints):
        inputs = await state.db.send_inputs(wallet.id, session.id, state.now())
        budget = policy.budget_left(
            session.constraints,
            policy.Usd(
                None,
                session_daily=inputs.session_usd_daily,
                session_total=inputs.session_usd_total,
            ),
        )
    return OwnSession(
        **msgspec.structs.asdict(session_model(state, session)),
        kill_switch=kill_switch_model(await state.db.get_kill_switch()),
        wallet=wallet_control(wallet),
        budget=budget,
    )


def routes() -> list[Route]:
    return [
        operation(
            "POST",
            "/v1/sessions",
            create_session,
            auth="master",
            tag="sessions",
            status=201,
            errors=(
                "INVALID_ADDRESS",
                "WALLET_NOT_FOUND",
                "WALLET_TERMINATED",
                "SESSION_LIMIT_EXCEEDED",
                "KILL_SWITCH_ACTIVE",
            ),
        ),
        operation("GET", "/v1/sessions", list_sessions, auth="master", tag="sessions"),
        operation(
            "DELETE",
            "/v1/sessions/{id}",
            revoke_session,
            auth="master",
            tag="sessions",
            path_params=SESSION_ID,
            errors=("SESSION_NOT_FOUND",),
        ),
        operation(
            "PUT",
            "/v1/sessions/{id}/renew",
            renew_session,
            auth="session",
            tag="sessions",
            # The token is checked inside renew(): its seven checks have their own order.
            checks_own_token=True,
            path_params={"id": "Session id; must be the token's own session."},
            errors=RENEWAL_ERRORS,
        ),
        operation("GET", "/v1/session", get_own_session, auth="session", tag="agent"),
    ]
