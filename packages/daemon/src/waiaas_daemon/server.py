"""Run the app under uvicorn on a socket we bind, and shut down cleanly."""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import uvicorn

from waiaas_core.config import Settings
from waiaas_daemon.app import create_app
from waiaas_daemon.state import DaemonState

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
    from waiaas_daemon.cli import bind_socket

    sock = bind_socket(settings.host, settings.port)
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
