"""The kill switch and the wallet's status in the status resource and get_session_info.

In process against a scripted daemon; `test_kill_switch_e2e.py` runs the same through
a real daemon over stdio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp.types import TextResourceContents

from tests.mcp.support import WALLET, FakeDaemon, in_process, make_token, result_json, settings_for
from waiaas_core.atomic import write_secret_file
from waiaas_core.paths import token_path

pytestmark = pytest.mark.anyio

HEALTH = {"status": "ok", "version": "0.1.0", "uptimeSeconds": 3}
OFF = {"active": False, "reason": None, "since": 1_800_000_100}
ON = {"active": True, "reason": "leaked key", "since": 1_800_000_200}
ACTIVE = {"walletId": WALLET, "status": "ACTIVE", "reason": None, "since": None}
SUSPENDED = {"walletId": WALLET, "status": "SUSPENDED", "reason": "odd", "since": 1_800_000_300}


def own_session(kill_switch: dict[str, Any], wallet: dict[str, Any]) -> dict[str, Any]:
    return {"walletId": WALLET, "status": "ACTIVE", "killSwitch": kill_switch, "wallet": wallet}


async def views(tmp_path: Path, session_row: dict[str, Any]) -> tuple[dict, dict]:
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret_file(path, make_token())
    daemon = FakeDaemon({"GET /health": HEALTH, "GET /v1/session": session_row})
    async with in_process(settings_for(tmp_path), daemon) as client:
        [content] = (await client.read_resource("waiaas://system/status")).contents
        assert isinstance(content, TextResourceContents)
        info = result_json(await client.call_tool("get_session_info", {}))
    return json.loads(content.text), info


async def test_the_kill_switch_shows_only_while_it_is_on(tmp_path: Path):
    status, info = await views(tmp_path, own_session(OFF, ACTIVE))
    assert status["status"] == "ok"
    assert "killSwitch" not in status and "killSwitch" not in info
    assert status["wallet"] == {"id": WALLET, "name": None, "status": "ACTIVE"} | {
        "reason": None,
        "since": None,
    }
    assert info["wallet"] == {"status": "ACTIVE", "reason": None, "since": None}

    status, info = await views(tmp_path, own_session(ON, ACTIVE))
    assert status["status"] == "degraded"
    assert status["killSwitch"] == info["killSwitch"]
    assert {k: info["killSwitch"][k] for k in ("active", "reason", "since")} == ON
    assert "KILL_SWITCH_ACTIVE" in info["killSwitch"]["message"]


async def test_a_suspended_wallet_degrades_the_status(tmp_path: Path):
    status, info = await views(tmp_path, own_session(OFF, SUSPENDED))
    assert status["status"] == "degraded"
    assert status["wallet"]["status"] == info["wallet"]["status"] == "SUSPENDED"
    assert info["wallet"]["reason"] == "odd"


async def test_an_older_daemon_without_the_fields_shows_neither(tmp_path: Path):
    status, info = await views(tmp_path, {"walletId": WALLET, "status": "ACTIVE"})
    assert status["status"] == "ok"
    assert status["wallet"] == {"id": WALLET, "name": None}
    assert "killSwitch" not in status and "wallet" not in info
