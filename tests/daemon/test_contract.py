"""The error contract (SPEC 6) for requests however malformed."""

import pytest

from tests.daemon.conftest import MASTER

pytestmark = pytest.mark.anyio


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert set(body) <= {"code", "message", "retryable", "hint", "requestId"}
    assert isinstance(body["requestId"], str) and body["requestId"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'"x"', b"null", b"\xff\xfe", b'{"name": "a",}', b"NaN"]
)
async def test_malformed_body_is_invalid_request(harness, raw):
    response = await harness.http.post("/v1/wallets", content=raw, headers=MASTER)
    _error(response, 400, "INVALID_REQUEST")


async def test_body_over_64_kib_is_payload_too_large(harness):
    body = b'{"name": "' + b"x" * (70 * 1024) + b'"}'
    response = await harness.http.post("/v1/wallets", content=body, headers=MASTER)
    _error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_streamed_body_over_64_kib_is_payload_too_large(harness):
    async def chunks():
        for _ in range(70):
            yield b"x" * 1024

    response = await harness.http.post("/v1/wallets", content=chunks(), headers=MASTER)
    _error(response, 413, "PAYLOAD_TOO_LARGE")


async def test_unknown_route_is_not_found(harness):
    _error(await harness.http.get("/v2/whatever"), 404, "NOT_FOUND")


async def test_wrong_method_is_a_json_error(harness):
    _error(await harness.http.patch("/v1/wallets", headers=MASTER), 405, "METHOD_NOT_ALLOWED")


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "localhost.evil", "10.0.0.1:3100", ""]
)
async def test_foreign_host_header_is_refused(harness, host):
    response = await harness.http.get("/health", headers={"Host": host})
    _error(response, 400, "INVALID_HOST")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:3100", "[::1]:3100", "LOCALHOST"])
async def test_loopback_host_headers_pass(harness, host):
    response = await harness.http.get("/health", headers={"Host": host})
    assert response.status_code == 200


async def test_no_cors_headers_even_for_a_preflight(harness):
    response = await harness.http.options(
        "/v1/wallets",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert not any(h.lower().startswith("access-control-") for h in response.headers)
    plain = await harness.http.get("/health", headers={"Origin": "http://evil.example"})
    assert not any(h.lower().startswith("access-control-") for h in plain.headers)


async def test_unexpected_failure_is_a_generic_500_without_details(harness, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail /home/user/key")

    monkeypatch.setattr(harness.state.db, "list_wallets", broken)
    response = await harness.http.get("/v1/wallets", headers=MASTER)
    body = _error(response, 500, "INTERNAL_ERROR")
    assert "secret detail" not in response.text and body["retryable"] is False


async def test_health_and_nonce_are_public(harness):
    health = (await harness.http.get("/health")).json()
    assert health["status"] == "ok" and health["uptimeSeconds"] == 0
    harness.clock.advance(5)
    assert (await harness.http.get("/health")).json()["uptimeSeconds"] == 5
    first = (await harness.http.get("/v1/nonce")).json()
    second = (await harness.http.get("/v1/nonce")).json()
    assert len(bytes.fromhex(first["nonce"])) == 32 and first["nonce"] != second["nonce"]
    assert first["expiresAt"] == int(harness.clock.now) + 300


async def test_admin_status_counts_wallets_and_active_sessions(harness):
    wallet = await harness.wallet()
    await harness.session(wallet["id"], expiresIn=10)
    await harness.session(wallet["id"], expiresIn=1000)
    harness.clock.advance(10)
    body = (await harness.http.get("/v1/admin/status", headers=MASTER)).json()
    assert body["walletCount"] == 1 and body["activeSessionCount"] == 1
    assert body["network"] == "local" and body["status"] == "ok"
    _error(await harness.http.get("/v1/admin/status"), 401, "INVALID_MASTER_PASSWORD")
