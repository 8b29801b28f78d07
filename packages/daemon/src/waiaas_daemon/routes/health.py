"""Public routes: health and nonce."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_daemon import __version__
from waiaas_daemon.auth import state_of
from waiaas_daemon.sessions import new_nonce

NONCE_SECONDS = 300


async def health(request: Request) -> JSONResponse:
    state = state_of(request)
    return JSONResponse(
        {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": int(state.clock() - state.started_at),
        }
    )


async def nonce(request: Request) -> JSONResponse:
    state = state_of(request)
    return JSONResponse({"nonce": new_nonce(), "expiresAt": state.now() + NONCE_SECONDS})


def routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/v1/nonce", nonce, methods=["GET"]),
    ]
