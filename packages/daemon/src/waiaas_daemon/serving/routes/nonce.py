"""Public: a fresh random nonce."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.schemas.system import Nonce
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of

NONCE_SECONDS = 300


async def get_nonce(request: Request) -> Nonce:
    """A random 32-byte nonce, valid 5 minutes."""
    return Nonce(nonce=secrets.token_hex(32), expires_at=state_of(request).now() + NONCE_SECONDS)


def routes() -> list[Route]:
    return [operation("GET", "/v1/nonce", get_nonce, auth="public", tag="system")]
