"""Remote MCP: the agent's tools over Streamable HTTP at ``/mcp``.

The tools and resources are ``waiaas_core.agent``'s, the very ones ``waiaas-mcp``
serves over stdio. Here their ``Api`` calls this daemon's own app in process
(``httpx.ASGITransport``) with the caller's bearer, so every call takes the REST
route's auth, policy and error path. In front of the SDK's transport (stateless,
JSON answers) this endpoint refuses a foreign ``Origin`` and checks the bearer
(401 with ``WWW-Authenticate: Bearer``, our JSON error), and renews an ``mcp-http``
session when it is due: a remote client's bearer never changes
(docs/notes/remote-mcp.md).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from starlette.types import ASGIApp, Receive, Scope, Send

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import oauth, sessions
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving import public
from waiaas_daemon.serving.middleware import host_allowed, request_id

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

log = logging.getLogger("waiaas_daemon.mcp")

PATH = "/mcp"
WORKER = "mcp"


class RemoteMcp:
    """The ``/mcp`` endpoint (an ASGI app); the SDK's session manager starts on first use."""

    def __init__(self, state: DaemonState, allowed_hosts: Iterable[str]) -> None:
        self._state = state
        self._allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._app: ASGIApp | None = None
        self._manager: StreamableHTTPSessionManager | None = None
        self._task_group: TaskGroup | None = None
        self._starting = anyio.Lock()

    def bind(self, app: ASGIApp) -> None:
        """``app`` is the daemon's whole app: the tools call its routes."""
        self._app = app

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Inside the daemon's lifespan: the task group the SDK's manager will run in."""
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            try:
                yield
            finally:
                self._task_group = None
                tg.cancel_scope.cancel()

    async def _started(self) -> StreamableHTTPSessionManager:
        if self._manager is not None:
            return self._manager
        async with self._starting:
            if self._manager is None:
                if self._task_group is None or self._app is None:
                    raise WaiaasError("INTERNAL_ERROR", "The MCP transport is not running.")
                # The SDK's import takes a while: in a thread, beside the other requests.
                module = await anyio.to_thread.run_sync(
                    importlib.import_module, "waiaas_daemon.serving.mcp_server"
                )
                manager, api = module.build(self._app)
                await self._task_group.start(self._run_manager, manager, api)
                log.info("MCP over Streamable HTTP ready at %s", PATH)
                self._manager = manager
                self._state.workers.ok(WORKER)
        return self._manager

    async def _run_manager(
        self,
        manager: StreamableHTTPSessionManager,
        api: Any,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """The SDK's manager for the daemon's lifetime; if it fails, the next request
        starts a new one (the SDK runs a manager once), and nothing else stops."""
        try:
            async with manager.run():
                task_status.started()
                await anyio.sleep_forever()
        except Exception as exc:
            if self._manager is not manager:
                raise  # it failed to start: the request that started it answers
            self._manager = None
            if not self._state.workers.failing(WORKER):
                log.error("the MCP transport stopped; the next request starts it", exc_info=exc)
            self._state.workers.failed(WORKER, exc)
        finally:
            with anyio.CancelScope(shield=True):
                await api.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope["headers"]
        origin = next((v for k, v in headers if k == b"origin"), None)
        if origin is not None and not self._origin_allowed(origin.decode("latin-1")):
            await _error(scope, send, WaiaasError("INVALID_ORIGIN"))
            return
        raw = next((v for k, v in headers if k == b"authorization"), b"").decode("latin-1")
        scheme, _, token = raw.partition(" ")
        token = token.strip()
        try:
            if scheme.lower() != "bearer" or not token:
                raise WaiaasError("INVALID_TOKEN", "Send Authorization: Bearer <token>")
            if token.startswith(oauth.ACCESS_PREFIX):
                resource = public.resource(scope, self._state.settings)
                await oauth.authenticate_access(self._state, token, resource)
            else:
                auth = await sessions.authenticate_remote(self._state, token)
                await sessions.renew_remote(self._state, auth.session)
        except WaiaasError as exc:
            challenge = (
                _challenge(scope, self._state, given=bool(token)) if exc.status == 401 else None
            )
            await _error(scope, send, exc, challenge=challenge)
            return
        try:
            manager = await self._started()
        except WaiaasError as exc:
            await _error(scope, send, exc)
            return
        from waiaas_daemon.serving.mcp_server import bearer  # imported by _started

        reset = bearer.set(token)
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            bearer.reset(reset)

    def _origin_allowed(self, origin: str) -> bool:
        """A browser page's origin must be this daemon's own host (DNS rebinding)."""
        scheme, sep, rest = origin.lower().partition("://")
        if not sep or scheme not in ("http", "https") or "/" in rest:
            return False
        return host_allowed(rest, self._allowed_hosts)


def _challenge(scope: Scope, state: DaemonState, *, given: bool) -> bytes:
    """RFC 6750 3 and RFC 9728 5.1: where an OAuth client learns how to get a token."""
    metadata = public.resource_metadata_url(scope, state.settings)
    value = (
        f'Bearer realm="waiaas", resource_metadata="{metadata}", scope="{" ".join(oauth.SCOPES)}"'
    )
    if given:
        value += ', error="invalid_token"'
    return value.encode("latin-1")


async def _error(
    scope: Scope, send: Send, error: WaiaasError, *, challenge: bytes | None = None
) -> None:
    body = json.dumps(error.to_body(request_id(scope))).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if challenge:
        headers.append((b"www-authenticate", challenge))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
