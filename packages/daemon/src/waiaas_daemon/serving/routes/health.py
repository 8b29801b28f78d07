"""Public: the daemon's health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon import __version__
from waiaas_daemon.schemas.system import Health
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of


async def get_health(request: Request) -> Health:
    """Daemon health."""
    state = state_of(request)
    return Health(
        status="ok", version=__version__, uptime_seconds=int(state.clock() - state.started_at)
    )


def routes() -> list[Route]:
    return [operation("GET", "/health", get_health, auth="public", tag="system")]
