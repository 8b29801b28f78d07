"""The resources (waiaas_core/agent/resources.py, stdio side) through an in-process MCP client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp.types import TextResourceContents

from tests.mcp.support import ADDRESS, WALLET, FakeDaemon, in_process, make_token, settings_for
from waiaas_core.atomic import write_secret_file
from waiaas_core.paths import token_path

pytestmark = pytest.mark.anyio

URIS = {
    "waiaas://wallet/balance",
    "waiaas://wallet/assets",
    "waiaas://wallet/address",
    "waiaas://system/status",
}


async def read_json(client, uri: str) -> dict:
    [content] = (await client.read_resource(uri)).contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return json.loads(content.text)


async def test_the_four_resources_are_listed(tmp_path: Path):
    async with in_process(settings_for(tmp_path), FakeDaemon()) as client:
        resources = (await client.list_resources()).resources
    assert {str(resource.uri) for resource in resources} == URIS


async def test_balance_and_address_come_from_the_daemon(tmp_path: Path):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    write_secret_file(path, make_token())
    daemon = FakeDaemon(
        {
            "GET /v1/wallet/balance": {"balance": "7", "decimals": 9, "symbol": "SOL"},
            "GET /v1/wallet/address": {"address": ADDRESS},
        }
    )
    async with in_process(settings_for(tmp_path), daemon) as client:
        assert (await read_json(client, "waiaas://wallet/balance"))["balance"] == "7"
        assert (await read_json(client, "waiaas://wallet/address"))["address"] == ADDRESS


async def test_resources_without_a_token_say_session_expired(tmp_path: Path):
    async with in_process(settings_for(tmp_path), FakeDaemon()) as client:
        body = await read_json(client, "waiaas://wallet/balance")
    assert body["session_expired"] is True


async def test_system_status_shows_daemon_health_and_session_state(tmp_path: Path):
    daemon = FakeDaemon({"GET /health": {"status": "ok", "version": "0.1.0", "uptimeSeconds": 3}})
    settings = settings_for(tmp_path, WAIAAS_WALLET_NAME="main")
    async with in_process(settings, daemon) as client:
        status = await read_json(client, "waiaas://system/status")
    assert status["status"] == "degraded"  # no token
    assert status["daemon"]["reachable"] is True
    assert status["daemon"]["status"] == "ok"
    assert status["wallet"] == {"id": WALLET, "name": "main"}
    assert status["session"]["state"] == "expired"
    assert "Authorization" not in daemon.requests[0].headers


async def test_assets_come_from_the_daemon_with_amounts_in_whole_tokens(tmp_path: Path):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    write_secret_file(path, make_token())
    items = [
        {"symbol": "SOL", "mint": None, "amount": "1500000000", "decimals": 9},
        {"symbol": "USDC", "mint": ADDRESS, "amount": "2500000", "decimals": 6},
    ]
    daemon = FakeDaemon({"GET /v1/wallet/assets": {"walletId": WALLET, "items": items}})
    async with in_process(settings_for(tmp_path), daemon) as client:
        body = await read_json(client, "waiaas://wallet/assets")
    assert [(i["amount"], i["uiAmount"]) for i in body["items"]] == [
        ("1500000000", "1.5"),
        ("2500000", "2.5"),
    ]
