"""Helpers for the fault tests: a daemon on a fixed port, so a client keeps its base URL.

A client that must outlive the daemon (waiaas-mcp) needs it back at the same
address after a restart.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import uvicorn

from tests.support.daemon import Daemon, start_daemon


def free_port() -> int:
    """A port the kernel just handed out; the daemon binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_daemon_on(data_dir: Path, port: int, *, timeout: float = 30) -> Daemon:
    """``waiaas-daemon serve --port PORT`` on an existing data dir (config.toml written)."""
    return start_daemon(data_dir, port=port, timeout=timeout)


def restart_on(data_dir: Path, port: int) -> Daemon:
    """Start again on the same port; once more if another process took it meanwhile."""
    try:
        return start_daemon_on(data_dir, port)
    except RuntimeError:
        return start_daemon_on(data_dir, port)


@contextlib.contextmanager
def cleanup(daemons: list[Daemon]):
    """Kill and close every daemon a test started, whatever happened."""
    try:
        yield daemons
    finally:
        for daemon in daemons:
            daemon.kill()
            daemon.close()


async def wait_for_line(log: Path, text: str, timeout: float) -> None:
    with anyio.fail_after(timeout):
        while text not in log.read_text():
            await anyio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on 127.0.0.1 (a socket bound first, so no port race); yield its URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="critical", ws="none"))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield f"http://127.0.0.1:{sock.getsockname()[1]}"
            finally:
                server.should_exit = True
    finally:
        sock.close()


class WebhookCounter:
    """A webhook receiver in a thread (the tests around it block): counts each event id."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event_id = self.headers.get("X-Waiaas-Event-Id", "")
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with receiver._lock:
                    receiver.counts[event_id] = receiver.counts.get(event_id, 0) + 1
                    receiver.types[event_id] = body.get("type", "")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def of_type(self, event_type: str) -> list[int]:
        """How often each event of this type arrived."""
        with self._lock:
            return [n for e, n in self.counts.items() if self.types[e] == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(predicate: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """Poll a condition of another process, bounded: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")
