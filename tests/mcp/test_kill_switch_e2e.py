"""The kill switch and a suspension, seen by the agent before a send is refused.

A real `waiaas-daemon serve`, a real `waiaas-mcp` driven by the official MCP client
over stdio: `waiaas://system/status` and `get_session_info` show the kill switch
while it is on and the wallet's status, from the daemon's `GET /v1/session`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import TextResourceContents

from tests.mcp.support import call, mcp_client
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def status_of(client: ClientSession) -> dict[str, Any]:
    [content] = (await client.read_resource("waiaas://system/status")).contents
    assert isinstance(content, TextResourceContents)
    return json.loads(content.text)


async def test_status_and_session_info_show_the_kill_switch_while_it_is_on(
    daemon: Daemon, tmp_path: Path
):
    wallet = daemon.create_wallet("agent")
    response = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    assert response.status_code == 201, response.text
    async with mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as client:
        status = await status_of(client)
        assert status["status"] == "ok"
        assert "killSwitch" not in status
        assert status["wallet"]["status"] == "ACTIVE"
        info = await call(client, "get_session_info")
        assert "killSwitch" not in info
        assert info["wallet"] == {"status": "ACTIVE", "reason": None, "since": None}

        on = daemon.api("POST", "/v1/admin/kill-switch", json={"reason": "leaked key"})
        assert on.status_code == 200, on.text
        since = on.json()["since"]
        status = await status_of(client)
        assert status["status"] == "degraded"
        assert status["session"]["state"] == "active"  # reads still work
        kill_switch = status["killSwitch"]
        assert (kill_switch["active"], kill_switch["reason"]) == (True, "leaked key")
        assert kill_switch["since"] == since
        assert "KILL_SWITCH_ACTIVE" in kill_switch["message"]
        info = await call(client, "get_session_info")
        assert info["killSwitch"] == kill_switch
        assert info["state"] == "active"

        assert daemon.api("DELETE", "/v1/admin/kill-switch").status_code == 200
        suspended = daemon.api("POST", f"/v1/wallets/{wallet['id']}/suspend", json={})
        assert suspended.status_code == 200, suspended.text
        status = await status_of(client)
        assert "killSwitch" not in status
        assert status["status"] == "degraded"
        assert status["wallet"]["status"] == "SUSPENDED"
        info = await call(client, "get_session_info")
        assert "killSwitch" not in info
        assert info["wallet"]["status"] == "SUSPENDED"

        assert daemon.api("POST", f"/v1/wallets/{wallet['id']}/resume").status_code == 200
        status = await status_of(client)
        assert status["status"] == "ok"
        assert "killSwitch" not in status
        assert status["wallet"]["status"] == "ACTIVE"


async def test_status_resource_shows_the_same_renewal_facts_as_get_session_info(
    daemon: Daemon, tmp_path: Path
):
    wallet = daemon.create_wallet("agent")
    response = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    assert response.status_code == 201, response.text
    async with mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as client:
        session = (await status_of(client))["session"]
        info = await call(client, "get_session_info")
    for key in ("renewalCount", "maxRenewals", "absoluteExpiresAt", "expiresAt", "label"):
        assert session[key] is not None, (key, session)
        assert session[key] == info[key], key
    assert session["renewalCount"] == 0 and session["label"] == "mcp"
