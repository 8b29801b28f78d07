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
from waiaas_daemon.sessions import authenticate
from waiaas_daemon.state import DaemonState

Endpoint = Callable[[Request], Awaitable[Response]]


def state_of(request: Request) -> DaemonState:
    return request.app.state.daemon


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WaiaasError("INVALID_TOKEN", "Send Authorization: Bearer wai_sess_...")
    return token.strip()


def master_auth(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        raw = request.headers.get("x-master-password")
        # Header values arrive as latin-1 text; their bytes are the password's UTF-8.
        await state_of(request).master.check(None if raw is None else raw.encode("latin-1"))
        return await endpoint(request)

    guarded.auth = "master"  # type: ignore[attr-defined]
    return guarded


def session_auth(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        request.state.auth = await authenticate(state_of(request), bearer_token(request))
        return await endpoint(request)

    guarded.auth = "session"  # type: ignore[attr-defined]
    return guarded
