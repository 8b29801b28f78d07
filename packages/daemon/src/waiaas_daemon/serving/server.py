"""Run the app under uvicorn on a socket we bind, guard the connections, shut down cleanly.

uvicorn is used for its HTTP protocols and its graceful shutdown; accepting
connections is ours. Each connection has a deadline for its request headers
and one for its body (a slow client cannot hold a socket for ever), and the
listener accepts at most as many connections as the file limit leaves room
for, refusing the rest with at most one log line a minute. Without that, 400
half-open connections exhaust a 256-fd limit and asyncio logs "Too many open
files" tracebacks for every accept it retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import resource
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from waiaas_core.config import Settings
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.state import DaemonState, StartupError
from waiaas_daemon.serving.app import create_app

log = logging.getLogger("waiaas_daemon.serving.server")
http_log = logging.getLogger("waiaas_daemon.http")

#: File descriptors kept free beside the connections: SQLite's journal and temp
#: files, RPC client sockets, secret file writes, the accept that refuses.
RESERVED_FDS = 32
#: Upper bound when the file limit is huge or unlimited: a local daemon for agents.
MAX_CONNECTIONS = 4096
#: Request line and headers; h11 refuses more by itself (its default), httptools never does.
MAX_HEADER_BYTES = 16 * 1024
ACCEPT_BURST = 64
ACCEPT_RETRY_SECONDS = 0.5
REFUSAL_LOG_SECONDS = 60.0
HTTP_IMPLEMENTATIONS = ("auto", "httptools", "h11")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    #: None: below the process's file limit (see connection_cap).
    max_connections: int | None = None


# -- choosing the stack -----------------------------------------------------------


def _importable(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def pick_http(name: str = "auto") -> str:
    """httptools where it is installed (uvicorn[standard]), else the pure-Python h11."""
    if name == "auto":
        return "httptools" if _importable("httptools") else "h11"
    return name


def pick_loop(name: str = "auto") -> str:
    if name == "auto":
        return "uvloop" if sys.platform != "win32" and _importable("uvloop") else "asyncio"
    return name


def loop_factory(name: str = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    if pick_loop(name) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def connection_cap(soft_limit: int, open_fds: int, reserved: int = RESERVED_FDS) -> int:
    """How many connections fit in the file limit beside what is open now and a reserve."""
    if soft_limit == resource.RLIM_INFINITY or soft_limit < 0:
        return MAX_CONNECTIONS
    return max(0, min(MAX_CONNECTIONS, soft_limit - open_fds - reserved))


def _open_fd_count() -> int:
    for directory in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return len(os.listdir(directory))
    return 64


# -- per-connection deadlines ---------------------------------------------------------


def waiting_for(cycle: Any) -> str:
    """What a connection waits for from its client: "headers", "body", or "app" (nothing)."""
    if cycle is None or cycle.response_complete:
        return "headers"
    return "body" if cycle.more_body else "app"


def invalid_http_body(message: str | None = None) -> bytes:
    error = WaiaasError("INVALID_REQUEST", message or "The request is not valid HTTP/1.1.")
    return json.dumps(error.to_body(uuid.uuid4().hex)).encode()


class _Guarded:
    """Mixed into uvicorn's HTTP protocols: deadlines, our logger, our JSON 400.

    The deadline follows the phase: armed when the connection opens and after each
    response (headers), re-armed when the headers are complete (body), dropped
    while the app works. A client trickling bytes does not move it.
    """

    cycle: Any
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    send_400_response: Callable[[str], None]

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = http_log
        self._limits = limits
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_for: tuple[str, Any] | None = None
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._watch_deadline()

    def _waiting_for_headers(self) -> bool:
        return self._deadline_for is not None and self._deadline_for[0] == "headers"

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_headers():
            self._header_bytes += len(data)
        super().data_received(data)  # type: ignore[misc]
        self._watch_deadline()
        if self._header_bytes > MAX_HEADER_BYTES and self._waiting_for_headers():
            self._header_bytes = 0
            self.send_400_response(HEADERS_TOO_LARGE)

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn's advice to install a WebSocket library is not ours: we serve none.
        http_log.debug("ignored an Upgrade request")

    def _abandon_cycle(self) -> None:
        """Before uvicorn answers a 400 itself: the app, if it runs, must not answer too."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.response_started:
            cycle.disconnected = True
            cycle.message_event.set()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._watch_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _watch_deadline(self) -> None:
        phase = (waiting_for(self.cycle), self.cycle)
        if phase == self._deadline_for:
            return
        self._cancel_deadline()
        self._deadline_for = phase
        self._header_bytes = 0
        timeout = {"headers": self._limits.header_timeout, "body": self._limits.body_timeout}
        seconds = timeout.get(phase[0])
        if seconds is not None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(seconds, self._on_deadline, phase)

    def _on_deadline(self, phase: tuple[str, Any]) -> None:
        self._deadline = None
        if (waiting_for(self.cycle), self.cycle) == phase:
            http_log.debug("closing a connection that sent no complete request %s", phase[0])
            self.transport.close()
        else:
            # The phase moved on without a callback of ours seeing it (pipelining).
            self._deadline_for = None
            self._watch_deadline()


HEADERS_TOO_LARGE = f"The request headers are larger than {MAX_HEADER_BYTES // 1024} KiB."


class GuardedH11(_Guarded, H11Protocol):
    def send_400_response(self, msg: str) -> None:
        self._abandon_cycle()
        body = invalid_http_body(HEADERS_TOO_LARGE if msg == HEADERS_TOO_LARGE else None)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))  # type: ignore[arg-type]
        except h11.LocalProtocolError:
            pass  # mid-response on this connection: nothing valid to answer, just close
        self.transport.close()


def _httptools_protocol() -> type[asyncio.Protocol]:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class GuardedHttpTools(_Guarded, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            # Headers that arrived in one read never meet the check in data_received.
            size = len(self.url) + sum(len(k) + len(v) + 4 for k, v in self.headers)
            if size > MAX_HEADER_BYTES:
                self._too_large = True
                raise httptools.HttpParserError(HEADERS_TOO_LARGE)
            super().on_headers_complete()

        def send_400_response(self, msg: str) -> None:
            self._abandon_cycle()
            too_large = msg == HEADERS_TOO_LARGE or getattr(self, "_too_large", False)
            body = invalid_http_body(HEADERS_TOO_LARGE if too_large else None)
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\n"
                b"connection: close\r\n\r\n" + body
            )
            self.transport.close()

    return GuardedHttpTools


def protocol_class(http: str) -> type[asyncio.Protocol]:
    return _httptools_protocol() if pick_http(http) == "httptools" else GuardedH11


# -- accepting connections ----------------------------------------------------------------


def refusal_due(now: float, last: float | None, interval: float = REFUSAL_LOG_SECONDS) -> bool:
    return last is None or now - last >= interval


class Listener:
    """Accepts on the listening socket while fewer than ``cap`` connections are open.

    Over the cap a connection is accepted and closed at once (the client sees a
    closed connection, the kernel backlog does not fill up); the log gets one line
    a minute at most, saying how many were refused.
    """

    def __init__(
        self,
        sock: socket.socket,
        factory: Callable[[], asyncio.Protocol],
        open_connections: Callable[[], int],
        cap: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sock = sock
        self._factory = factory
        self._open_connections = open_connections
        self.cap = cap
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        self._refused = 0
        self._last_refusal_log: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._sock.fileno(), self._accept)

    def close(self) -> None:
        if not self._closed and self._loop is not None:
            self._closed = True
            self._loop.remove_reader(self._sock.fileno())

    async def wait_closed(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BURST):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                self._out_of_resources(exc)
                return
            if self._open_connections() + len(self._pending) >= self.cap:
                conn.close()
                self._note_refusal(f"{self.cap} connections are open, the most allowed")
                continue
            task = asyncio.ensure_future(self._connect(conn))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _connect(self, conn: socket.socket) -> None:
        assert self._loop is not None
        try:
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._loop.connect_accepted_socket(self._factory, conn)
        except OSError:
            conn.close()

    def _out_of_resources(self, exc: OSError) -> None:
        # EMFILE and friends: the fds are used elsewhere. Stop accepting for a moment
        # rather than spin on a socket that stays readable.
        assert self._loop is not None
        self._note_refusal(f"accept failed: {exc.strerror or exc}")
        if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            log.warning("accept failed: %s", exc)
        self._loop.remove_reader(self._sock.fileno())
        self._loop.call_later(ACCEPT_RETRY_SECONDS, self._resume)

    def _resume(self) -> None:
        if not self._closed and self._loop is not None:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _note_refusal(self, reason: str) -> None:
        self._refused += 1
        now = self._clock()
        if refusal_due(now, self._last_refusal_log):
            log.warning(
                "refused %d connection(s): %s (fewer are logged: one line a minute)",
                self._refused,
                reason,
            )
            self._refused = 0
            self._last_refusal_log = now


# -- uvicorn ------------------------------------------------------------------------------


class _UvicornNames(logging.Filter):
    """uvicorn logs its server lifecycle as "uvicorn.error"; say what it is, and quietly."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.name = log.name
        if record.levelno < logging.WARNING:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return log.isEnabledFor(logging.DEBUG)
        return True


def _rename_uvicorn_logs() -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _UvicornNames) for f in uvicorn_log.filters):
        uvicorn_log.addFilter(_UvicornNames())


class _Server(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, url: str, limits: ConnectionLimits, http: str
    ) -> None:
        super().__init__(config)
        self._url = url
        self._limits = limits
        self._protocol = protocol_class(http)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's startup with no sockets runs the lifespan and nothing else; the
        # listener is ours, and shutdown() closes it as one of self.servers.
        await super().startup(sockets=[])
        if self.should_exit:
            return
        assert sockets
        cap = self._limits.max_connections
        if cap is None:
            cap = connection_cap(resource.getrlimit(resource.RLIMIT_NOFILE)[0], _open_fd_count())
        if cap < 1:
            raise StartupError(
                "the file limit (ulimit -n) is too low to accept any connection; raise it"
            )
        listener = Listener(sockets[0], self._make_protocol, self._open_connections, cap)
        listener.start()
        self.servers = [listener]  # type: ignore[list-item]
        log.info(
            "serving with %s on %s, at most %d connections",
            self._protocol.__name__.removeprefix("Guarded").lower(),
            type(asyncio.get_running_loop()).__module__.split(".")[0],
            cap,
        )
        print(f"waiaas-daemon listening on {self._url}", file=sys.stderr, flush=True)

    def _make_protocol(self) -> asyncio.Protocol:
        return self._protocol(  # type: ignore[call-arg]
            config=self.config,
            server_state=self.server_state,
            app_state=self.lifespan.state,
            limits=self._limits,
        )

    def _open_connections(self) -> int:
        return len(self.server_state.connections)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # uvicorn re-raises the signal that stopped it after serve(); we have
        # shut down cleanly, so the process should exit 0 instead of dying of it.
        self._captured_signals.clear()


async def run_server(
    settings: Settings,
    data_dir: Path,
    password: str,
    *,
    limits: ConnectionLimits | None = None,
    http: str = "auto",
) -> None:
    _rename_uvicorn_logs()
    try:
        sock = bind_socket(settings.host, settings.port)
    except OSError as exc:
        raise StartupError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None
    try:
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        async with DaemonState.open(settings, data_dir, password) as state:
            state.base_url = url
            app = create_app(state)
            config = uvicorn.Config(
                app,
                log_config=None,
                access_log=False,
                lifespan="on",
                server_header=False,
                ws="none",
                http=pick_http(http),  # type: ignore[arg-type]
            )
            await _Server(config, url, limits or ConnectionLimits(), http).serve(sockets=[sock])
    finally:
        sock.close()
    log.info("stopped")


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before uvicorn starts, so --port 0 can report the port it got."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
