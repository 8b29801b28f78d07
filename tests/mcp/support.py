"""Helpers for the MCP server's tests: tokens, a scripted fake daemon, an in-process client."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp import Client
from mcp.types import CallToolResult, TextContent

from waiaas_core.tokens import sign_session_token
from waiaas_mcp.config import Settings
from waiaas_mcp.server import create_server

WALLET = "6f1c1a52-1c55-4c8e-9d1e-0a4c8b3c2d11"
ADDRESS = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"


def make_token(ttl: int = 3600, *, wallet_id: str = WALLET) -> str:
    now = int(time.time())
    return sign_session_token(b"t" * 32, str(uuid.uuid4()), wallet_id, now, now + ttl)


def settings_for(data_dir: Path, *, env_token: str | None = None, **env: str) -> Settings:
    return Settings.from_env(
        {
            "WAIAAS_DATA_DIR": str(data_dir),
            "WAIAAS_WALLET_ID": WALLET,
            "WAIAAS_BASE_URL": "http://daemon.test",
            **({"WAIAAS_SESSION_TOKEN": env_token} if env_token else {}),
            **env,
        }
    )


Route = Callable[[httpx.Request], httpx.Response]


class FakeDaemon:
    """Routes by "METHOD /path"; records every request."""

    def __init__(self, routes: dict[str, Route | dict[str, Any]] | None = None) -> None:
        self.routes: dict[str, Route | dict[str, Any]] = routes or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get(f"{request.method} {request.url.path}")
        if route is None:
            return httpx.Response(404, json={"code": "NOT_FOUND", "message": "No such route."})
        if callable(route):
            return route(request)
        return httpx.Response(200, json=route)


@asynccontextmanager
async def in_process(
    settings: Settings, daemon: Callable[[httpx.Request], httpx.Response]
) -> AsyncIterator[Client]:
    server = create_server(settings, transport=httpx.MockTransport(daemon))
    async with Client(server) as client:
        yield client


def result_json(result: CallToolResult) -> Any:
    [content] = result.content
    assert isinstance(content, TextContent)
    return json.loads(content.text)
