"""Public: the daemon's health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon import __version__
from waiaas_daemon.schemas.system import FailingWorker, Health
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of


async def get_health(request: Request) -> Health:
    """Daemon health: ``degraded`` while a background worker fails, naming it and since when.

    Answered from memory, without the database, so it answers during an outage too.
    """
    state = state_of(request)
    failing = [
        FailingWorker(worker=t.worker, since=int(t.since), failures=t.failures, error=t.error)
        for t in state.workers.troubles()
    ]
    return Health(
        status="degraded" if failing else "ok",
        version=__version__,
        uptime_seconds=int(state.clock() - state.started_at),
        failing=failing,
    )


def routes() -> list[Route]:
    return [operation("GET", "/health", get_health, auth="public", tag="system")]
