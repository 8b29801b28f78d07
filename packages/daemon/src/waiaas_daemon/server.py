"""Run the app under uvicorn on a socket we bind, and shut down cleanly."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import uvicorn

from waiaas_core.config import Settings
from waiaas_daemon.app import create_app
from waiaas_daemon.state import DaemonState, StartupError

log = logging.getLogger("waiaas_daemon")


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            print(f"waiaas-daemon listening on {self._url}", file=sys.stderr, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # uvicorn re-raises the signal that stopped it after serve(); we have
        # shut down cleanly, so the process should exit 0 instead of dying of it.
        self._captured_signals.clear()


async def run_server(settings: Settings, data_dir: Path, password: str) -> None:
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
                app, log_config=None, access_log=False, lifespan="on", server_header=False
            )
            await _Server(config, url).serve(sockets=[sock])
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
