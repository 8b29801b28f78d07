"""`waiaas mcp setup --http` against a real daemon: the printed config works as printed."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.cli.checks import ok
from tests.mcp.support import call

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def snippet(stdout: str) -> dict[str, Any]:
    start = stdout.index("\n{\n") + 1
    body, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return body


def active_sessions(daemon: Any) -> list[dict[str, Any]]:
    items = daemon.api("GET", "/v1/sessions").json()["items"]
    return [s for s in items if s["status"] == "ACTIVE"]


async def test_setup_http_prints_a_config_that_connects_and_keeps_the_stdio_session(
    waiaas: Any, daemon: Any
):
    wallet = daemon.create_wallet("Main Agent")
    ok(waiaas("mcp", "setup"))  # the stdio session first
    result = waiaas("mcp", "setup", "--http", "--max-per-tx", "0.5")
    stdout = ok(result)
    [(name, entry)] = snippet(stdout)["mcpServers"].items()
    assert name == "waiaas-main-agent"
    assert entry["type"] == "http"
    assert entry["url"] == f"{daemon.base_url}/mcp"
    bearer = entry["headers"]["Authorization"]
    assert bearer.startswith("Bearer wai_sess_")
    assert f"claude mcp add --transport http {name} {entry['url']}" in stdout
    assert "reachable from this machine only" in result.stderr
    assert "Token file" not in stdout
    assert (daemon.data_dir / "mcp-tokens" / wallet["id"]).read_text() not in stdout

    async with (
        httpx2.AsyncClient(headers={"Authorization": bearer}, timeout=30) as http,
        streamable_http_client(entry["url"], http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        assert (await call(session, "get_address"))["address"] == wallet["address"]
        info = await call(session, "get_session_info")
        assert info["label"] == "mcp-http"
        assert info["constraints"] == {"maxAmountPerTx": "500000000"}

    labels = sorted(s["label"] for s in active_sessions(daemon))
    assert labels == ["mcp", "mcp-http"]

    # Again: the earlier --http session is replaced (its limits kept), the stdio one stays.
    first = info["sessionId"]
    ok(waiaas("mcp", "setup", "--http"))
    now_active = active_sessions(daemon)
    assert sorted(s["label"] for s in now_active) == ["mcp", "mcp-http"]
    [again] = [s for s in now_active if s["label"] == "mcp-http"]
    assert again["id"] != first
    assert again["constraints"] == {"maxAmountPerTx": "500000000"}


def test_setup_http_refuses_write_config(waiaas: Any, daemon: Any):
    daemon.create_wallet("main")
    result = waiaas("mcp", "setup", "--http", "--write-config")
    assert result.returncode == 2
    assert "--http" in result.stderr
    assert not [s for s in active_sessions(daemon) if s["label"] == "mcp-http"]
