"""masterAuth: the daemon's status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_daemon import __version__
from waiaas_daemon.auth import master_auth, state_of


async def admin_status(request: Request) -> JSONResponse:
    state = state_of(request)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": int(state.clock() - state.started_at),
            "network": state.settings.network,
            "walletCount": await state.db.count_wallets(),
            "activeSessionCount": await state.db.count_active_sessions(state.now()),
        }
    )


def routes() -> list[Route]:
    return [Route("/v1/admin/status", master_auth(admin_status), methods=["GET"])]
