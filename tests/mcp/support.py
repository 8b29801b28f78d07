"""Helpers for the MCP server's tests: tokens, a scripted fake daemon, an in-process client."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
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


@asynccontextmanager
async def mcp_client(
    base_url: str, data_dir: Path, wallet: dict[str, Any], log: Path, poll: float = 0.2
) -> AsyncIterator[ClientSession]:
    """A real ``waiaas-mcp`` over stdio, as Claude Desktop starts it; its stderr goes to ``log``."""
    env = {
        "WAIAAS_BASE_URL": base_url,
        "WAIAAS_DATA_DIR": str(data_dir),
        "WAIAAS_WALLET_ID": wallet["id"],
        "WAIAAS_WALLET_NAME": wallet["name"],
        "WAIAAS_RECOVERY_POLL_SECONDS": str(poll),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "waiaas_mcp"], env=env)
    with log.open("w") as errlog:
        async with AsyncExitStack() as stack:
            read, write = await stack.enter_async_context(stdio_client(params, errlog=errlog))
            session = await stack.enter_async_context(ClientSession(read, write))
            await session.initialize()
            yield session


async def call(client: ClientSession, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """A tool call that must succeed; its JSON result."""
    result = await client.call_tool(name, arguments or {})
    body = result_json(result)
    assert not result.is_error, body
    return body
