"""Sessions: create, list, revoke (masterAuth) and renew (the token itself)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_daemon import parsing, sessions
from waiaas_daemon.auth import bearer_token, master_auth, state_of
from waiaas_daemon.state import DaemonState
from waiaas_daemon.storage import SessionRow


def session_view(state: DaemonState, session: SessionRow) -> dict[str, Any]:
    return {
        "id": session.id,
        "walletId": session.wallet_id,
        "label": session.label,
        "status": sessions.status_of(state, session),
        "renewalCount": session.renewal_count,
        "maxRenewals": state.settings.max_renewals,
        "expiresAt": session.expires_at,
        "absoluteExpiresAt": sessions.absolute_expiry(state, session),
        "createdAt": session.created_at,
        "lastRenewedAt": session.last_renewed_at,
        "constraints": session.constraints,
    }


def expires_in(state: DaemonState, body: dict[str, Any]) -> int:
    settings = state.settings
    value = parsing.integer(
        body,
        "expiresIn",
        low=settings.min_session_ttl,
        high=settings.max_session_ttl,
        required=False,
    )
    return settings.session_ttl if value is None else value


async def create_session(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await parsing.json_object(request)
    parsing.no_unknown_fields(body, {"walletId", "expiresIn", "constraints", "label"})
    wallet_id = parsing.wallet_id(body)
    issued = await sessions.create_session(
        state,
        wallet_id,
        ttl=expires_in(state, body),
        constraints=parsing.constraints(body.get("constraints")),
        label=parsing.string(body, "label", required=False, max_length=64),
    )
    return JSONResponse(
        {
            "id": issued.session.id,
            "token": issued.token,
            "expiresAt": issued.session.expires_at,
            "walletId": wallet_id,
        },
        status_code=201,
    )


async def list_sessions(request: Request) -> JSONResponse:
    state = state_of(request)
    wallet_id = request.query_params.get("walletId")
    if wallet_id is not None:
        wallet_id = parsing.wallet_id({"walletId": wallet_id})
    rows = await state.db.list_sessions(wallet_id)
    return JSONResponse({"items": [session_view(state, s) for s in rows]})


async def revoke_session(request: Request) -> JSONResponse:
    session_id = parsing.path_uuid(request, "id", "SESSION_NOT_FOUND")
    session = await sessions.revoke(state_of(request), session_id)
    return JSONResponse({"id": session.id, "status": "REVOKED"})


async def renew_session(request: Request) -> JSONResponse:
    state = state_of(request)
    # A malformed id is simply not the token's session (check 2); renew() runs
    # check 1 on the token first.
    issued = await sessions.renew(state, request.path_params["id"], bearer_token(request))
    return JSONResponse(
        {
            "id": issued.session.id,
            "token": issued.token,
            "expiresAt": issued.session.expires_at,
            "renewalCount": issued.session.renewal_count,
            "maxRenewals": state.settings.max_renewals,
            "absoluteExpiresAt": sessions.absolute_expiry(state, issued.session),
        }
    )


def routes() -> list[Route]:
    return [
        Route("/v1/sessions", master_auth(create_session), methods=["POST"]),
        Route("/v1/sessions", master_auth(list_sessions), methods=["GET"]),
        Route("/v1/sessions/{id}", master_auth(revoke_session), methods=["DELETE"]),
        # The token is checked inside renew(): its seven checks have their own order.
        Route("/v1/sessions/{id}/renew", renew_session, methods=["PUT"]),
    ]
