"""Helpers for the fault tests: a daemon on a fixed port, so a client keeps its base URL.

A client that must outlive the daemon (waiaas-mcp) needs it back at the same
address after a restart.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
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
