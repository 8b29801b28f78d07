"""ApiClient (waiaas_mcp/client.py): every answer of the daemon classified, 401 re-checked once."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from waiaas_core.atomic import write_secret_file
from waiaas_core.tokens import sign_session_token
from waiaas_mcp.client import ApiClient, ApiError, Expired, NetworkError, Ok
from waiaas_mcp.session import SessionManager, SessionState

pytestmark = pytest.mark.anyio

BASE_URL = "http://daemon.test"
WALLET = str(uuid.uuid4())


def token(ttl: int = 3600) -> str:
    now = int(time.time())
    return sign_session_token(b"s" * 32, str(uuid.uuid4()), WALLET, now, now + ttl)


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "mcp-tokens" / WALLET
    path.parent.mkdir(parents=True)
    return path


@asynccontextmanager
async def api_client(
    handler: Handler, token_file: Path
) -> AsyncIterator[tuple[ApiClient, SessionManager]]:
    transport = httpx.MockTransport(handler)
    http = httpx.AsyncClient(base_url=BASE_URL, transport=transport)
    session = SessionManager(http, token_file=token_file, wallet_id=WALLET)
    async with http, session:
        await session.start()
        yield ApiClient(http, session, base_url=BASE_URL), session


async def test_success_is_ok_with_the_json_body(token_file: Path):
    raw = token()
    write_secret_file(token_file, raw)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"address": "abc"})

    async with api_client(handler, token_file) as (api, _):
        assert await api.get("/v1/wallet/address") == Ok({"address": "abc"})
    assert seen[0].headers["Authorization"] == f"Bearer {raw}"


async def test_error_body_becomes_an_api_error_with_the_table_s_retryability(token_file: Path):
    write_secret_file(token_file, token())

    def handler(_request: httpx.Request) -> httpx.Response:
        body = {"code": "CHAIN_ERROR", "message": "rpc down", "retryable": True, "hint": "later"}
        return httpx.Response(502, json=body)

    async with api_client(handler, token_file) as (api, _):
        result = await api.post("/v1/transactions/send", {"to": "x", "amount": "1"})
    assert isinstance(result, ApiError)
    assert (result.error.code, result.error.status, result.error.retryable) == (
        "CHAIN_ERROR",
        502,
        True,
    )
    assert result.error.hint == "later"


async def test_an_answer_that_is_not_json_is_an_api_error(token_file: Path):
    write_secret_file(token_file, token())

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    async with api_client(handler, token_file) as (api, _):
        result = await api.get("/v1/wallet/balance")
    assert isinstance(result, ApiError)
    assert result.error.status == 502


async def test_unreachable_daemon_is_a_network_error_naming_the_url(token_file: Path):
    write_secret_file(token_file, token())

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with api_client(handler, token_file) as (api, _):
        result = await api.post("/v1/transactions/send", {"to": "x", "amount": "1"})
    assert isinstance(result, NetworkError)
    assert BASE_URL in result.message
    assert "list_transactions" not in result.message  # nothing was sent


async def test_a_send_cut_off_after_it_left_warns_it_may_have_gone_through(token_file: Path):
    write_secret_file(token_file, token())

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with api_client(handler, token_file) as (api, _):
        result = await api.post("/v1/transactions/send", {"to": "x", "amount": "1"})
    assert isinstance(result, NetworkError)
    assert "check list_transactions" in result.message


async def test_without_a_token_the_answer_is_expired_and_nothing_is_sent(token_file: Path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with api_client(handler, token_file) as (api, _):
        result = await api.get("/v1/wallet/balance")
    assert isinstance(result, Expired)
    assert str(token_file) in result.message
    assert seen == []


async def test_a_401_with_a_newer_token_in_the_file_is_retried_once_with_it(token_file: Path):
    old, new = token(), token(ttl=7200)
    write_secret_file(token_file, old)
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bearer = request.headers["Authorization"].split()[1]
        sent.append(bearer)
        if bearer == old:
            write_secret_file(token_file, new)  # re-provisioned meanwhile
            return httpx.Response(401, json={"code": "SESSION_REVOKED", "message": "revoked"})
        return httpx.Response(200, json={"balance": "5"})

    async with api_client(handler, token_file) as (api, session):
        assert await api.get("/v1/wallet/balance") == Ok({"balance": "5"})
        assert session.get_token() == new
    assert sent == [old, new]


async def test_a_401_without_a_new_token_is_expired_after_one_request(token_file: Path):
    write_secret_file(token_file, token())
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"code": "SESSION_REVOKED", "message": "revoked"})

    async with api_client(handler, token_file) as (api, session):
        result = await api.get("/v1/wallet/balance")
        assert isinstance(result, Expired)
        assert session.state is SessionState.EXPIRED
        assert session.recovering
    assert len(seen) == 1


async def test_a_401_on_the_retry_too_is_expired(token_file: Path):
    old, new = token(), token(ttl=7200)
    write_secret_file(token_file, old)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        write_secret_file(token_file, new)
        return httpx.Response(401, json={"code": "SESSION_REVOKED", "message": "revoked"})

    async with api_client(handler, token_file) as (api, session):
        assert isinstance(await api.get("/v1/wallet/balance"), Expired)
        assert session.state is SessionState.EXPIRED
    assert len(seen) == 2


async def test_public_routes_are_called_without_a_token(token_file: Path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok"})

    async with api_client(handler, token_file) as (api, _):
        assert await api.public_get("/health") == Ok({"status": "ok"})
    assert "Authorization" not in seen[0].headers


async def test_a_token_provisioned_while_expired_is_used_by_the_next_call(token_file: Path):
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"balance": "1"})

    async with api_client(handler, token_file) as (api, session):
        assert isinstance(await api.get("/v1/wallet/balance"), Expired)
        write_secret_file(token_file, token())
        assert await api.get("/v1/wallet/balance") == Ok({"balance": "1"})
        assert session.state is SessionState.ACTIVE
        assert not session.recovering
