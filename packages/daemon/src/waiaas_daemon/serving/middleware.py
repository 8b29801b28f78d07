"""Pure-ASGI guards in front of every route: request id, Host check, body limit,
the database's outages answered 503.

The Host guard is modelled on starlette's TrustedHostMiddleware but answers
with our JSON error and understands ``[::1]:port``. It stops DNS rebinding:
a web page on evil.example resolving to 127.0.0.1 still sends its own Host.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.workers import Workers
from waiaas_daemon.storage import unavailable

MAX_BODY_BYTES = 64 * 1024
#: Seconds a client is asked to wait (Retry-After) while the database is unavailable.
STORAGE_RETRY_AFTER = 5
LOOPBACK_NAMES: frozenset[str] = frozenset({"127.0.0.1", "localhost", "[::1]"})


def request_id(scope: Scope) -> str:
    return scope.setdefault("state", {}).setdefault("request_id", uuid.uuid4().hex)


async def send_error(scope: Scope, send: Send, error: WaiaasError) -> None:
    body = json.dumps(error.to_body(request_id(scope))).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if error.retry_after is not None:
        headers.append((b"retry-after", str(error.retry_after).encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_allowed(host_header: str, allowed: frozenset[str]) -> bool:
    """Exact: an allowed name, optionally ``:`` and a port 1-65535, nothing after it.

    ``127.0.0.1:80.evil.com``, ``[::1]evil.com`` and ``localhost:0`` are refused: a
    prefix match would let a rebinding page through with any suffix it likes.
    """
    host = host_header.lower()
    if host.startswith("["):
        end = host.find("]") + 1
        if end == 0:
            return False
        name, rest = host[:end], host[end:]
    else:
        name, colon, port = host.partition(":")
        rest = colon + port
    if name not in allowed:
        return False
    return rest == "" or (rest[0] == ":" and _valid_port(rest[1:]))


def _valid_port(text: str) -> bool:
    return 0 < len(text) <= 5 and text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


#: Host values already found good, as sent: a client sends the same one every time.
KNOWN_GOOD_HOSTS = 64


class HostGuard:
    """``public_hosts`` (``public_url``'s name, as a proxy sends it) pass on the paths
    ``is_public`` allows only: a hosted agent reaches ``/mcp`` and OAuth, nothing else."""

    def __init__(
        self,
        app: ASGIApp,
        extra_hosts: Iterable[str] = (),
        public_hosts: Iterable[str] = (),
        is_public: Callable[[str], bool] = lambda path: False,
    ) -> None:
        self.app = app
        self.allowed = LOOPBACK_NAMES | {h.lower() for h in extra_hosts}
        self.public = frozenset(h.lower().encode("latin-1") for h in public_hosts)
        self.is_public = is_public
        self._good: set[bytes] = set()

    def _allowed(self, headers: Iterable[tuple[bytes, bytes]], path: str = "") -> bool:
        hosts = [value for name, value in headers if name == b"host"]
        # Two Host headers are ambiguous (RFC 9112 3.2): which one would a proxy use?
        if len(hosts) != 1:
            return False
        host = hosts[0]
        if host in self._good:
            return True
        if not host_allowed(host.decode("latin-1"), self.allowed):
            # public_url's name (a proxy's Host) reaches the public paths only.
            return host.lower() in self.public and self.is_public(path)
        if len(self._good) < KNOWN_GOOD_HOSTS:
            self._good.add(host)
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope["headers"], scope["path"]):
            await send_error(
                scope,
                send,
                WaiaasError(
                    "INVALID_HOST",
                    hint="Call the daemon as http://127.0.0.1:<port> or http://localhost:<port>.",
                ),
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over the limit, whether it says its length or streams."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = chunked = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = value
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            status = "PAYLOAD_TOO_LARGE" if length.isdigit() else "INVALID_REQUEST"
            await send_error(scope, send, WaiaasError(status, _too_large(self.limit, status)))
            return
        if length is None and chunked is None:
            # No body can follow (RFC 9112 6.3): nothing to count, as on most GETs.
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise WaiaasError("PAYLOAD_TOO_LARGE", _too_large(self.limit, ""))
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int, code: str) -> str | None:
    if code == "INVALID_REQUEST":
        return "The Content-Length header is not a number."
    return f"The request body is larger than {limit // 1024} KiB."


def storage_failure(exc: BaseException) -> BaseException | None:
    """The database's unavailability behind ``exc`` (in a task group's group too), if that is it."""
    if isinstance(exc, BaseExceptionGroup):
        found = [storage_failure(e) for e in exc.exceptions]
        return found[0] if found and all(found) else None
    return exc if unavailable(exc) else None


class StorageGuard:
    """503 ``STORAGE_UNAVAILABLE`` (retryable, ``Retry-After``) while the database cannot be used.

    Wherever it is found below (a route, the auth check, /mcp), the daemon's
    ``Workers`` note the outage (one log line when it starts, one when the
    database is back, never a traceback) and the client is told to come back.
    """

    def __init__(self, app: ASGIApp, workers: Workers) -> None:
        self.app = app
        self.workers = workers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            failure = storage_failure(exc)
            if failure is None:
                raise
            self.workers.lose_storage(failure)
            if not started:
                await send_error(scope, send, storage_unavailable())


def storage_unavailable() -> WaiaasError:
    return WaiaasError(
        "STORAGE_UNAVAILABLE",
        hint="The daemon's database is unavailable for a moment; retry after Retry-After seconds.",
        retry_after=STORAGE_RETRY_AFTER,
    )
