"""Remote MCP: the official client's Streamable HTTP transport against a real daemon's /mcp.

The same tools as stdio, compared with a real ``waiaas-mcp`` over real stdio: names,
descriptions and input schemas, and the results of get_balance, send_token and
list_transactions. Then the HTTP edges: no token, a revoked session, a foreign Host
and a foreign Origin.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.mcp.support import call, mcp_client, result_json
from tests.mcp.test_e2e import SOL, funded_wallet, provision
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@asynccontextmanager
async def http_client(base_url: str, token: str) -> AsyncIterator[ClientSession]:
    """The official client over Streamable HTTP, as a hosted agent framework uses it."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(f"{base_url}/mcp", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def http_session(daemon: Daemon, wallet_id: str, **body: Any) -> dict[str, Any]:
    return daemon.create_session(wallet_id, label="mcp-http", **body)


def tool_view(tools: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": t.name,
            "title": t.title,
            "description": t.description,
            "inputSchema": t.input_schema,
            "annotations": t.annotations,
        }
        for t in tools
    ]


def without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


async def test_http_serves_the_stdio_tools_with_the_same_results(daemon: Daemon, tmp_path: Path):
    wallet = funded_wallet(daemon, "agent")
    shop = daemon.create_wallet("shop")
    provision(daemon, wallet["id"])  # the stdio server's mcp session
    remote = http_session(daemon, wallet["id"])
    async with (
        mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as stdio,
        http_client(daemon.base_url, remote["token"]) as http,
    ):
        stdio_tools = (await stdio.list_tools()).tools
        http_tools = (await http.list_tools()).tools
        assert len(http_tools) == len(stdio_tools) >= 10
        assert tool_view(http_tools) == tool_view(stdio_tools)
        stdio_resources = [r.uri for r in (await stdio.list_resources()).resources]
        assert [r.uri for r in (await http.list_resources()).resources] == stdio_resources

        assert await call(http, "get_balance") == await call(stdio, "get_balance")
        assert await call(http, "get_address") == await call(stdio, "get_address")

        args = {"to": shop["address"], "amount": SOL // 10, "memo": "coffee"}
        over_http = await call(http, "send_token", args)
        over_stdio = await call(stdio, "send_token", args)
        assert over_http["status"] == over_stdio["status"] == "CONFIRMED"
        assert without(over_http, "id", "signature") == without(over_stdio, "id", "signature")

        listed_http = await call(http, "list_transactions", {"limit": 5})
        listed_stdio = await call(stdio, "list_transactions", {"limit": 5})
        assert listed_http == listed_stdio
        assert {t["id"] for t in listed_http["items"]} >= {over_http["id"], over_stdio["id"]}

        # An API error has the same shape and isError over both.
        bad = {"to": shop["address"], "amount": str(100 * SOL)}
        http_error = await http.call_tool("send_token", bad)
        stdio_error = await stdio.call_tool("send_token", bad)
        assert http_error.is_error and stdio_error.is_error
        assert result_json(http_error) == result_json(stdio_error)
        assert result_json(http_error)["code"] == "INSUFFICIENT_BALANCE"

        # The session is the daemon's own view: the mcp-http session, not the stdio one.
        info = await call(http, "get_session_info")
        assert info["state"] == "active"
        assert info["sessionId"] == remote["id"]
        assert info["label"] == "mcp-http"
        assert info["maxRenewals"] == 30
        status = result_json_text(await http.read_resource("waiaas://system/status"))
        assert status["status"] == "ok"
        assert status["session"]["sessionId"] == remote["id"]

    # Setting up the HTTP session did not replace the stdio one: both still answer.
    with daemon.client() as plain:
        sessions = plain.get("/v1/sessions", headers=daemon.master).json()["items"]
    labels = sorted(s["label"] for s in sessions if s["status"] == "ACTIVE")
    assert labels == ["mcp", "mcp-http"]
    assert remote["token"] not in daemon.log


def result_json_text(result: Any) -> Any:
    [content] = result.contents
    return json.loads(content.text)


def post_initialize(daemon: Daemon, headers: dict[str, str]) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }
    with daemon.client() as http:
        return http.post(
            "/mcp",
            json=body,
            headers={"Accept": "application/json, text/event-stream", **headers},
        )


async def test_http_refuses_no_token_a_revoked_session_a_foreign_host_and_origin(
    daemon: Daemon,
):
    wallet = daemon.create_wallet("agent")
    remote = http_session(daemon, wallet["id"])
    bearer = {"Authorization": f"Bearer {remote['token']}"}

    assert post_initialize(daemon, bearer).status_code == 200

    missing = post_initialize(daemon, {})
    assert missing.status_code == 401
    assert missing.json()["code"] == "INVALID_TOKEN"
    assert missing.headers["www-authenticate"].startswith("Bearer")

    forged = post_initialize(daemon, {"Authorization": "Bearer wai_sess_nope"})
    assert forged.status_code == 401
    assert forged.json()["code"] == "INVALID_TOKEN"

    foreign_host = post_initialize(daemon, {**bearer, "Host": "evil.example"})
    assert foreign_host.status_code == 400
    assert foreign_host.json()["code"] == "INVALID_HOST"

    for origin in ("http://evil.example", "null", "http://127.0.0.1.evil.example"):
        refused = post_initialize(daemon, {**bearer, "Origin": origin})
        assert refused.status_code == 403, origin
        assert refused.json()["code"] == "INVALID_ORIGIN"
    port = daemon.base_url.rsplit(":", 1)[1]
    own = post_initialize(daemon, {**bearer, "Origin": f"http://localhost:{port}"})
    assert own.status_code == 200

    # Revoked while a client is connected: its next request is refused at once (every
    # POST is authenticated before MCP sees it), and so is a new connection.
    async with http_client(daemon.base_url, remote["token"]) as http:
        assert (await call(http, "get_address"))["address"] == wallet["address"]
        assert daemon.api("DELETE", f"/v1/sessions/{remote['id']}").status_code == 200
        with pytest.raises(MCPError):
            await http.call_tool("get_address", {})
    revoked = post_initialize(daemon, bearer)
    assert revoked.status_code == 401
    assert revoked.json()["code"] == "SESSION_REVOKED"
    assert "wai_sess_" not in revoked.text

    # The MCP transport runs in the daemon's lifespan: SIGTERM still ends it cleanly.
    assert daemon.stop() == 0
    assert "Traceback" not in daemon.log
