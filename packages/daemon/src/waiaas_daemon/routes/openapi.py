"""Public: the OpenAPI document of this daemon."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_daemon.auth import state_of
from waiaas_daemon.openapi import openapi_document


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(state_of(request).settings))


def routes() -> list[Route]:
    return [Route("/openapi.json", openapi_json, methods=["GET"])]
