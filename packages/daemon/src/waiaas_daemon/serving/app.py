"""The Starlette application: routes, guards, error handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import settlement
from waiaas_daemon.domain.notify import Notifier
from waiaas_daemon.domain.scheduler import running_scheduler
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.domain.telegram import Prompts, running_bot, telegram_linked
from waiaas_daemon.domain.workers import STORAGE, supervise, watch_storage
from waiaas_daemon.serving import console, public
from waiaas_daemon.serving.middleware import (
    LOOPBACK_NAMES,
    BodyLimit,
    HostGuard,
    StorageGuard,
    request_id,
)
from waiaas_daemon.serving.remote_mcp import PATH as MCP_PATH
from waiaas_daemon.serving.remote_mcp import RemoteMcp
from waiaas_daemon.serving.routes import (
    admin,
    agent_wallet,
    audit,
    controls,
    health,
    local_rpc,
    mcp_tokens,
    nonce,
    oauth,
    openapi,
    payments,
    pending,
    policy,
    sessions,
    telegram,
    tokens,
    transactions,
    wallets,
)

log = logging.getLogger("waiaas_daemon")
http_log = logging.getLogger("waiaas_daemon.http")

HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


def error_response(request: Request, error: WaiaasError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return JSONResponse(
        error.to_body(request_id(request.scope)), status_code=error.status, headers=headers
    )


async def on_waiaas_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WaiaasError)
    return error_response(request, exc)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "INVALID_REQUEST")
    return error_response(request, WaiaasError(code))


async def on_client_gone(request: Request, exc: Exception) -> Response:
    # The client closed its connection before its body arrived: nobody to answer,
    # nothing went wrong here. One quiet line (150 such clients once wrote 9,500).
    http_log.debug(
        "%s %s: the client left before its body was complete", request.method, request.url.path
    )
    return Response(status_code=400)


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback stays in our log; the client learns only the request id.
    log.error("request %s failed", request_id(request.scope), exc_info=exc)
    return error_response(request, WaiaasError("INTERNAL_ERROR"))


class DaemonApp(Starlette):
    """The daemon's app; ``daemon`` is read by every request (auth.state_of)."""

    daemon: DaemonState
    remote_mcp: RemoteMcp
    oauth: oauth.OAuthEndpoints


@asynccontextmanager
async def lifespan(app: DaemonApp) -> AsyncIterator[None]:
    settled = await settlement.reconcile(app.daemon)
    if settled:
        log.info("reconciled %d unsettled transactions", settled)
    # After reconciliation: queued sends whose time came while we were down run now.
    # The notifier too: outbox rows left by the last run are delivered now, never by a request.
    # The MCP transport's task group serves /mcp: it runs for the daemon's lifetime.
    # Every background worker runs under its own supervisor (domain/workers.py): one
    # failing never stops another, and each starts again after a backoff.
    async with (
        _watching(app.daemon),
        running_scheduler(app.daemon),
        _telegram(app.daemon),
        _notifying(app.daemon.notifier),
        app.remote_mcp.running(),
    ):
        yield


@asynccontextmanager
async def _watching(state: DaemonState) -> AsyncIterator[None]:
    """The storage watch (probes a lost database back) and the settlement worker."""
    async with anyio.create_task_group() as group:
        group.start_soon(
            supervise, STORAGE, lambda: watch_storage(state.db, state.workers), state.workers
        )
        group.start_soon(supervise, settlement.WORKER, lambda: settlement.run(state), state.workers)
        try:
            yield
        finally:
            group.cancel_scope.cancel()


@asynccontextmanager
async def _telegram(state: DaemonState) -> AsyncIterator[None]:
    """The bot (telegram/), and the buttons its approval messages carry, with a bot token."""
    if state.notifier is not None and state.settings.telegram_bot_token:
        state.notifier.prompts = Prompts(state)
        state.notifier.telegram_linked = await telegram_linked(state)
    async with running_bot(state):
        yield


@asynccontextmanager
async def _notifying(notifier: Notifier | None) -> AsyncIterator[None]:
    if notifier is None:
        yield
        return
    async with notifier.running():
        yield


def api_routes() -> list[Route]:
    """Every route of the daemon; the OpenAPI document is made from these.

    Starlette tries routes in order: the agent's hot paths come first.
    """
    return [
        *agent_wallet.routes(),
        *tokens.routes(),
        *transactions.routes(),
        *payments.routes(),
        *sessions.routes(),
        *health.routes(),
        *nonce.routes(),
        *admin.routes(),
        *wallets.routes(),
        *mcp_tokens.routes(),
        *openapi.routes(),
        *policy.routes(),
        *pending.routes(),
        *controls.routes(),
        *audit.routes(),
        *telegram.routes(),
        *local_rpc.routes(),
    ]


def create_app(state: DaemonState) -> DaemonApp:
    remote_mcp = RemoteMcp(
        state, allowed_hosts=LOOPBACK_NAMES | set(_extra_hosts(state)) | set(_public_hosts(state))
    )
    # /mcp is not in the OpenAPI document: it speaks MCP (docs/mcp.md "Over HTTP").
    mcp_route: BaseRoute = Route(MCP_PATH, remote_mcp, methods=["GET", "POST", "DELETE"])
    # OAuth speaks its own protocol (form bodies, OAuth errors): not in the OpenAPI either.
    endpoints = oauth.OAuthEndpoints(state.clock)
    app = DaemonApp(
        routes=[*api_routes(), mcp_route, *endpoints.routes(), *console.routes(state)],
        middleware=[
            Middleware(
                HostGuard,
                extra_hosts=_extra_hosts(state),
                public_hosts=_public_hosts(state),
                is_public=public.is_public_path,
            ),
            Middleware(StorageGuard, workers=state.workers),
            Middleware(BodyLimit),
        ],
        lifespan=lifespan,
        exception_handlers={
            WaiaasError: on_waiaas_error,
            HTTPException: on_http_error,
            ClientDisconnect: on_client_gone,
            Exception: on_unexpected,
        },
    )
    app.daemon = state
    app.remote_mcp = remote_mcp
    app.oauth = endpoints
    remote_mcp.bind(app)
    return app


def _public_hosts(state: DaemonState) -> list[str]:
    """public_url's name as a proxy may send it: with and without its default port."""
    host = public.public_host(state.settings)
    if host is None:
        return []
    return [host, public.with_default_port(state.settings)]


def _extra_hosts(state: DaemonState) -> list[str]:
    # With allow_remote the operator chose to serve a real name; accept it too.
    settings = state.settings
    if not settings.allow_remote:
        return []
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return [host]
