"""Helpers for the fault tests: a daemon on a fixed port, so a client keeps its base URL.

A client that must outlive the daemon (waiaas-mcp) needs it back at the same
address after a restart.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import uvicorn
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.mcp.support import result_json
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


@contextlib.asynccontextmanager
async def mcp_client(
    base_url: str, data_dir: Path, wallet: dict[str, Any], log: Path, poll: float = 0.2
) -> AsyncIterator[ClientSession]:
    """A real ``waiaas-mcp`` over stdio, as Claude Desktop starts it; its stderr goes to ``log``."""
    env = {
        "WAIAAS_BASE_URL": base_url,
        "WAIAAS_DATA_DIR": str(data_dir),
        "WAIAAS_WALLET_ID": wallet["id"],
        "WAIAAS_WALLET_NAME": wallet["name"],
        "WAIAAS_RECOVERY_POLL_SECONDS": str(poll),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "waiaas_mcp"], env=env)
    with log.open("w") as errlog:
        async with contextlib.AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            yield session


async def call(client: ClientSession, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """A tool call that must succeed; its JSON result."""
    result = await client.call_tool(name, arguments or {})
    body = result_json(result)
    assert not result.is_error, body
    return body


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
