"""The seven tools (waiaas_mcp/tools/*.py) through an in-process MCP client and a fake daemon."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.mcp.support import (
    ADDRESS,
    WALLET,
    FakeDaemon,
    in_process,
    make_token,
    result_json,
    settings_for,
)
from waiaas_core.atomic import write_secret_file
from waiaas_core.paths import token_path

pytestmark = pytest.mark.anyio

TOOLS = {
    "send_token",
    "get_balance",
    "get_address",
    "list_transactions",
    "get_transaction",
    "get_nonce",
    "get_session_info",
}
NO_ARGS = {name: {} for name in TOOLS} | {
    "send_token": {"to": ADDRESS, "amount": 1000},
    "get_transaction": {"transaction_id": "tx-1"},
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def with_token(data_dir: Path) -> str:
    raw = make_token()
    path = token_path(data_dir, WALLET)
    path.parent.mkdir(parents=True)
    write_secret_file(path, raw)
    return raw


async def test_the_seven_tools_are_listed_with_descriptions_for_a_model(data_dir: Path):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name in ("send_token", "get_balance", "list_transactions", "get_transaction"):
        assert "lamports" in (tools[name].description or ""), name
    for tool in tools.values():
        assert "Returns" in (tool.description or ""), tool.name


async def test_input_schemas_carry_types_and_bounds(data_dir: Path):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    send = tools["send_token"].input_schema
    assert send["required"] == ["to", "amount"]
    assert send["properties"]["amount"]["type"] == "integer"
    assert send["properties"]["amount"]["minimum"] == 1
    assert send["properties"]["amount"]["maximum"] == 2**64 - 1
    assert "pattern" in send["properties"]["to"]
    limit = tools["list_transactions"].input_schema["properties"]["limit"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)
    assert tools["get_transaction"].input_schema["required"] == ["transaction_id"]


async def test_get_address_answers_the_daemon_s_json(data_dir: Path, with_token: str):
    body = {"walletId": WALLET, "chain": "solana", "network": "local", "address": ADDRESS}
    daemon = FakeDaemon({"GET /v1/wallet/address": body})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("get_address", {})
    assert not result.is_error
    assert result_json(result) == body
    assert daemon.requests[0].headers["Authorization"] == f"Bearer {with_token}"


async def test_get_balance_adds_the_amount_in_sol(data_dir: Path, with_token: str):
    body = {"address": ADDRESS, "balance": "1500000000", "decimals": 9, "symbol": "SOL"}
    async with in_process(
        settings_for(data_dir), FakeDaemon({"GET /v1/wallet/balance": body})
    ) as c:
        result = result_json(await c.call_tool("get_balance", {}))
    assert result["balance"] == "1500000000"
    assert result["balanceSol"] == "1.5"


async def test_send_token_posts_the_amount_as_a_decimal_string_of_lamports(
    data_dir: Path, with_token: str
):
    daemon = FakeDaemon(
        {"POST /v1/transactions/send": {"id": "tx-1", "status": "CONFIRMED", "signature": "s"}}
    )
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool(
            "send_token", {"to": ADDRESS, "amount": 2500, "memo": "thanks"}
        )
    assert result_json(result)["status"] == "CONFIRMED"
    assert json.loads(daemon.requests[0].content) == {
        "to": ADDRESS,
        "amount": "2500",
        "memo": "thanks",
    }


@pytest.mark.parametrize(
    "arguments",
    [
        {"to": ADDRESS, "amount": 0},
        {"to": ADDRESS, "amount": 2**64},
        {"to": "not an address", "amount": 1},
        {"to": ADDRESS},
    ],
    ids=["zero", "too-big", "bad-address", "missing-amount"],
)
async def test_send_token_refuses_arguments_out_of_bounds_without_calling_the_daemon(
    data_dir: Path, with_token: str, arguments: dict
):
    daemon = FakeDaemon()
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", arguments)
    assert result.is_error
    assert daemon.requests == []


async def test_list_transactions_passes_limit_and_cursor(data_dir: Path, with_token: str):
    daemon = FakeDaemon({"GET /v1/transactions": {"items": [], "cursor": None}})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("list_transactions", {"limit": 5, "cursor": "abc"})
    assert result_json(result) == {"items": [], "cursor": None}
    assert dict(daemon.requests[0].url.params) == {"limit": "5", "cursor": "abc"}


async def test_get_transaction_asks_for_that_id(data_dir: Path, with_token: str):
    daemon = FakeDaemon({"GET /v1/transactions/tx-42": {"id": "tx-42", "status": "CONFIRMED"}})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("get_transaction", {"transaction_id": "tx-42"})
    assert result_json(result)["id"] == "tx-42"


async def test_get_nonce_answers_the_daemon_s_nonce(data_dir: Path, with_token: str):
    daemon = FakeDaemon({"GET /v1/nonce": {"nonce": "ab" * 32, "expiresAt": 1}})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("get_nonce", {})
    assert result_json(result)["nonce"] == "ab" * 32


async def test_get_session_info_shows_state_and_expiry_but_not_the_token(
    data_dir: Path, with_token: str
):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:
        result = await client.call_tool("get_session_info", {})
    info = result_json(result)
    assert info["state"] == "active"
    assert info["walletId"] == WALLET
    assert isinstance(info["expiresAt"], int)
    assert "renewalCount" in info
    assert with_token not in json.dumps(info)


async def test_an_api_error_is_an_error_result_with_code_and_retryability(
    data_dir: Path, with_token: str
):
    def insufficient(_request: httpx.Request) -> httpx.Response:
        body = {"code": "INSUFFICIENT_BALANCE", "message": "Too low.", "retryable": False}
        return httpx.Response(400, json=body)

    daemon = FakeDaemon({"POST /v1/transactions/send": insufficient})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", NO_ARGS["send_token"])
    assert result.is_error
    assert result_json(result) == {
        "error": True,
        "code": "INSUFFICIENT_BALANCE",
        "message": "Too low.",
        "retryable": False,
    }


async def test_an_unreachable_daemon_is_a_network_error_without_is_error(
    data_dir: Path, with_token: str
):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with in_process(settings_for(data_dir), down) as client:
        result = await client.call_tool("get_balance", {})
    assert not result.is_error
    assert result_json(result)["network_error"] is True


@pytest.mark.parametrize("name", sorted(TOOLS))
async def test_without_a_token_every_tool_answers_session_expired_without_is_error(
    data_dir: Path, name: str
):
    daemon = FakeDaemon()
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool(name, NO_ARGS[name])
    assert not result.is_error
    body = result_json(result)
    assert body["session_expired"] is True
    assert body["action"] == "Run 'waiaas mcp setup'"
    assert body["message"]
    assert daemon.requests == []


async def test_a_revoked_token_answers_session_expired(data_dir: Path, with_token: str):
    def revoked(_request: httpx.Request) -> httpx.Response:
        body = {"code": "SESSION_REVOKED", "message": "revoked", "retryable": False}
        return httpx.Response(401, json=body)

    async with in_process(
        settings_for(data_dir), FakeDaemon({"GET /v1/wallet/address": revoked})
    ) as c:
        result = await c.call_tool("get_address", {})
        info = result_json(await c.call_tool("get_session_info", {}))
    assert not result.is_error
    assert result_json(result)["session_expired"] is True
    assert info["state"] == "expired"
