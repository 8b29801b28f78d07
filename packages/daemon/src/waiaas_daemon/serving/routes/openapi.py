"""Public: the OpenAPI document of this daemon, made from its own routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_daemon.serving.api import json_response, operation
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.openapi import openapi_document


async def get_openapi(request: Request) -> Response:
    """This OpenAPI document."""
    state = state_of(request)
    if state.openapi is None:
        # The routes and the bounds from the settings are fixed for the daemon's life.
        state.openapi = openapi_document(request.app.routes, state.settings)
    return json_response(state.openapi)


def routes() -> list[Route]:
    return [
        operation(
            "GET",
            "/openapi.json",
            get_openapi,
            auth="public",
            tag="system",
            raw_response="OpenApiDocument",
        )
    ]
