"""The tools (waiaas_core/agent/tools, stdio side): in-process MCP client, fake daemon."""

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
    "get_assets",
    "get_policy",
    "cancel_transaction",
    "pay_for_resource",
}
TX = "0b6c5f0e-3f47-4a52-9a7e-2d9f1c0e8a10"
NO_ARGS = {name: {} for name in TOOLS} | {
    "send_token": {"to": ADDRESS, "amount": 1000},
    "get_transaction": {"transaction_id": TX},
    "cancel_transaction": {"transaction_id": TX},
    "pay_for_resource": {"url": "https://api.example.com/report"},
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


async def test_every_tool_is_listed_with_a_description_for_a_model(data_dir: Path):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for name in (
        "send_token",
        "get_balance",
        "list_transactions",
        "get_transaction",
        "get_assets",
        "get_policy",
    ):
        assert "lamports" in (tools[name].description or ""), name
    for tool in tools.values():
        assert "Returns" in (tool.description or ""), tool.name


async def test_input_schemas_carry_types_and_bounds(data_dir: Path):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    send = tools["send_token"].input_schema
    assert send["required"] == ["to", "amount"]
    integer, string = send["properties"]["amount"]["anyOf"]
    assert (integer["type"], integer["minimum"], integer["maximum"]) == ("integer", 1, 2**64 - 1)
    assert string["type"] == "string"
    assert "token" in send["properties"]
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
    daemon = FakeDaemon({f"GET /v1/transactions/{TX}": {"id": TX, "status": "CONFIRMED"}})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("get_transaction", {"transaction_id": TX})
    assert result_json(result)["id"] == TX


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


# -- policy, waiting sends, assets, session (issue 12) ------------------------------


def answer(status: int, body: dict):
    return lambda _request: httpx.Response(status, json=body)


async def test_a_queued_send_is_a_success_that_says_when_it_runs_and_how_to_cancel(
    data_dir: Path, with_token: str
):
    queued = {"id": TX, "status": "QUEUED", "tier": "DELAY", "executeAt": 1_800_000_000}
    daemon = FakeDaemon({"POST /v1/transactions/send": answer(202, queued)})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", {"to": ADDRESS, "amount": "5000000000"})
    assert not result.is_error
    body = result_json(result)
    assert body["status"] == "QUEUED"
    assert body["executeAtIso"] == "2027-01-15T08:00:00Z"
    assert TX in body["message"]
    assert "2027-01-15T08:00:00Z" in body["message"]
    assert "cancel_transaction" in body["message"]


async def test_a_send_waiting_for_approval_is_a_success_telling_the_user_to_ask_the_owner(
    data_dir: Path, with_token: str
):
    pending = {
        "id": TX,
        "status": "PENDING_APPROVAL",
        "tier": "APPROVAL",
        "approvalExpiresAt": 1_800_003_600,
    }
    daemon = FakeDaemon({"POST /v1/transactions/send": answer(202, pending)})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", {"to": ADDRESS, "amount": 10**12})
    assert not result.is_error
    body = result_json(result)
    assert body["approvalExpiresAtIso"] == "2027-01-15T09:00:00Z"
    assert "owner" in body["message"] and "approve" in body["message"]
    assert TX in body["message"] and "2027-01-15T09:00:00Z" in body["message"]


async def test_send_token_passes_the_token_and_an_amount_given_as_a_string(
    data_dir: Path, with_token: str
):
    sent = {"id": TX, "status": "CONFIRMED", "tier": "INSTANT", "signature": "s"}
    daemon = FakeDaemon({"POST /v1/transactions/send": answer(201, sent)})
    big = str(2**64 - 1)
    async with in_process(settings_for(data_dir), daemon) as client:
        arguments = {"to": ADDRESS, "amount": big, "token": "USDC"}
        result = await client.call_tool("send_token", arguments)
    assert result_json(result) == sent
    assert json.loads(daemon.requests[0].content) == arguments


@pytest.mark.parametrize("amount", [str(2**64), "0", "-1", "1.5", "01", 1.5, True], ids=str)
async def test_send_token_refuses_an_amount_that_is_not_1_to_u64_max_base_units(
    data_dir: Path, with_token: str, amount
):
    daemon = FakeDaemon()
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", {"to": ADDRESS, "amount": amount})
    assert result.is_error
    assert daemon.requests == []


async def test_a_rate_limited_send_says_when_to_retry(data_dir: Path, with_token: str):
    def limited(_request: httpx.Request) -> httpx.Response:
        body = {"code": "RATE_LIMITED", "message": "Too many sends.", "retryable": True}
        return httpx.Response(429, json=body, headers={"Retry-After": "120"})

    daemon = FakeDaemon({"POST /v1/transactions/send": limited})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("send_token", NO_ARGS["send_token"])
    assert result.is_error
    assert result_json(result)["retryAfter"] == 120


async def test_cancel_transaction_posts_to_the_cancel_route(data_dir: Path, with_token: str):
    cancelled = {"id": TX, "status": "CANCELLED"}
    daemon = FakeDaemon({f"POST /v1/transactions/{TX}/cancel": cancelled})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("cancel_transaction", {"transaction_id": TX})
    assert result_json(result) == cancelled
    assert daemon.requests[0].headers["Authorization"] == f"Bearer {with_token}"


async def test_a_transaction_id_that_is_not_a_canonical_uuid_never_reaches_the_daemon(
    data_dir: Path, with_token: str
):
    daemon = FakeDaemon()
    async with in_process(settings_for(data_dir), daemon) as client:
        for name in ("get_transaction", "cancel_transaction"):
            for bad in ("tx-1", TX.upper(), "../wallet/address"):
                result = await client.call_tool(name, {"transaction_id": bad})
                assert result.is_error, (name, bad)
    assert daemon.requests == []


async def test_cancelling_a_settled_send_is_an_error_result(data_dir: Path, with_token: str):
    settled = {"code": "TRANSACTION_NOT_PENDING", "message": "Already sent.", "retryable": False}
    daemon = FakeDaemon({f"POST /v1/transactions/{TX}/cancel": answer(409, settled)})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("cancel_transaction", {"transaction_id": TX})
    assert result.is_error
    assert result_json(result)["code"] == "TRANSACTION_NOT_PENDING"


async def test_get_policy_answers_the_policy_the_constraints_and_what_is_left(
    data_dir: Path, with_token: str
):
    policy = {
        "policy": {"instantMax": "100000000", "dailyLimit": "10000000000"},
        "version": 3,
        "constraints": {"maxAmountPerTx": "50000000"},
        "remaining": {"daily": "9000000000", "monthly": None, "sendsThisHour": None},
    }
    daemon = FakeDaemon({"GET /v1/wallet/policy": policy})
    async with in_process(settings_for(data_dir), daemon) as client:
        result = await client.call_tool("get_policy", {})
    assert result_json(result) == policy


async def test_get_assets_adds_each_amount_in_whole_tokens(data_dir: Path, with_token: str):
    assets = {
        "walletId": WALLET,
        "network": "local",
        "items": [{"symbol": None, "mint": ADDRESS, "amount": "7", "decimals": 0}],
    }
    daemon = FakeDaemon({"GET /v1/wallet/assets": assets})
    async with in_process(settings_for(data_dir), daemon) as client:
        body = result_json(await client.call_tool("get_assets", {}))
    assert body["items"][0]["uiAmount"] == "7"


async def test_get_session_info_knows_renewals_lifetime_and_constraints_from_the_start(
    data_dir: Path, with_token: str
):
    row = {
        "walletId": WALLET,
        "label": "mcp",
        "status": "ACTIVE",
        "renewalCount": 0,
        "maxRenewals": 30,
        "expiresAt": 1,
        "absoluteExpiresAt": 1_802_592_000,
        "createdAt": 1_800_000_000,
        "lastRenewedAt": None,
        "constraints": {"maxAmountPerTx": "10000000"},
    }
    daemon = FakeDaemon({"GET /v1/session": row})
    async with in_process(settings_for(data_dir), daemon) as client:
        info = result_json(await client.call_tool("get_session_info", {}))
    assert info["state"] == "active"
    assert (info["renewalCount"], info["maxRenewals"]) == (0, 30)
    assert info["absoluteExpiresAt"] == 1_802_592_000
    assert info["constraints"] == {"maxAmountPerTx": "10000000"}
    assert daemon.requests[0].headers["Authorization"] == f"Bearer {with_token}"


async def test_get_session_info_without_the_daemon_still_answers_from_the_token(
    data_dir: Path, with_token: str
):
    async with in_process(settings_for(data_dir), FakeDaemon()) as client:  # 404 everywhere
        info = result_json(await client.call_tool("get_session_info", {}))
    assert info["state"] == "active"
    assert info["constraints"] is None
