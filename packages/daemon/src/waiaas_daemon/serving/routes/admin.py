"""masterAuth: the daemon's status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon import __version__
from waiaas_daemon.schemas.system import AdminStatus
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.routes.controls import kill_switch_model


async def get_admin_status(request: Request) -> AdminStatus:
    """Daemon status with wallet and session counts."""
    state = state_of(request)
    return AdminStatus(
        status="ok",
        version=__version__,
        uptime_seconds=int(state.clock() - state.started_at),
        network=state.settings.network,  # type: ignore[arg-type]
        wallet_count=await state.db.count_wallets(),
        active_session_count=await state.db.count_active_sessions(state.now()),
        kill_switch=kill_switch_model(await state.db.get_kill_switch()),
    )


def routes() -> list[Route]:
    return [operation("GET", "/v1/admin/status", get_admin_status, auth="master", tag="system")]
