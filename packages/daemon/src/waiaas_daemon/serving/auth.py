"""masterAuth and sessionAuth, declared per route by wrapping its endpoint.

Starlette's AuthenticationMiddleware runs before routing and so cannot know
which kind of auth a route wants; wrapping the endpoint in the route table
keeps the declaration beside the path, and no handler checks auth itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import oauth
from waiaas_daemon.domain.sessions import authenticate, authenticate_remote
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event

#: Set by waiaas_daemon.serving.remote_mcp on its in-process calls only; no client can set it.
REMOTE_SCOPE_KEY = "waiaas.remote_mcp"

Endpoint = Callable[[Request], Awaitable[Response]]


def state_of(request: Request) -> DaemonState:
    # Read on every request: a plain attribute of app.DaemonApp, not starlette's State.
    return request.scope["app"].daemon


def bearer_token(request: Request) -> str:
    # The raw header list: building a Headers object costs more than this scan.
    raw = next((v for k, v in request.scope["headers"] if k == b"authorization"), b"")
    header = raw.decode("latin-1")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WaiaasError("INVALID_TOKEN", "Send Authorization: Bearer wai_sess_...")
    return token.strip()


def master_auth(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        raw = request.headers.get("x-master-password")
        state = state_of(request)
        try:
            # Header values arrive as latin-1 text; their bytes are the password's UTF-8.
            await state.master.check(None if raw is None else raw.encode("latin-1"))
        except WaiaasError as exc:
            if exc.code == "INVALID_MASTER_PASSWORD" and raw is not None:
                await _record_master_failure(state, request)
            raise
        return await endpoint(request)

    guarded.auth = "master"  # type: ignore[attr-defined]
    return guarded


async def _record_master_failure(state: DaemonState, request: Request) -> None:
    """A wrong master password is an audit entry; the one that locks is a notification too."""
    now = state.clock()
    client = request.client.host if request.client else None
    where = {"client": client, "path": request.url.path}
    events = [Event("daemon", "master.failure", details=where)]
    locked_until = state.master.locked_until
    if locked_until > now:
        details = {"attempts": state.master.attempts, "until": int(locked_until), "client": client}
        events.append(Event("daemon", "master.lockout", details=details))
    await state.db.emit(events)


def session_auth(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        # A tool call of /mcp, in process: the bearer is judged as /mcp judges it.
        token = bearer_token(request)
        state = state_of(request)
        if REMOTE_SCOPE_KEY in request.scope and token.startswith(oauth.ACCESS_PREFIX):
            # /mcp has checked the token's resource already.
            request.state.auth = await oauth.authenticate_access(state, token, None)
        else:
            check = authenticate_remote if REMOTE_SCOPE_KEY in request.scope else authenticate
            request.state.auth = await check(state, token)
        return await endpoint(request)

    guarded.auth = "session"  # type: ignore[attr-defined]
    return guarded
