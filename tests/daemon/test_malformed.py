"""Malformed input that used to answer 500 (issue 10): every one is a 400 naming the problem."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.daemon.conftest import MASTER
from tests.daemon.test_contract import _error
from tests.support.daemon import running_daemon

pytestmark = pytest.mark.anyio

RECIPIENT = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"
SURROGATE = rb'"\ud800"'
NUL = rb'"a\u0000b"'


async def _token(harness) -> dict[str, str]:
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    return {"Authorization": f"Bearer {session['token']}"}


@pytest.mark.parametrize("path", ["/v1/wallets", "/v1/sessions", "/v1/mcp/tokens"])
async def test_thousand_nested_arrays_are_invalid_request(harness, path):
    response = await harness.http.post(path, content=b"[" * 1000, headers=MASTER)
    _error(response, 400, "INVALID_REQUEST")


async def test_deep_nesting_inside_a_field_is_invalid_request(harness):
    body = b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await harness.http.post("/v1/wallets", content=body, headers=MASTER)
    _error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("text", [SURROGATE, NUL, rb'"\udc00x"'])
async def test_lone_surrogate_or_nul_in_a_wallet_name_is_invalid_request(harness, text):
    response = await harness.http.post(
        "/v1/wallets", content=b'{"name": ' + text + b"}", headers=MASTER
    )
    _error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("text", [SURROGATE, NUL])
async def test_lone_surrogate_or_nul_in_a_session_label_is_invalid_request(harness, text):
    wallet = await harness.wallet()
    body = b'{"walletId": "' + wallet["id"].encode() + b'", "label": ' + text + b"}"
    response = await harness.http.post("/v1/sessions", content=body, headers=MASTER)
    _error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("text", [SURROGATE, NUL])
async def test_lone_surrogate_or_nul_in_a_memo_is_invalid_request(harness, text):
    headers = await _token(harness)
    body = b'{"to": "' + RECIPIENT.encode() + b'", "amount": "1", "memo": ' + text + b"}"
    response = await harness.http.post("/v1/transactions/send", content=body, headers=headers)
    _error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("limit", ["9" * 4301, "9" * 31, "-1", "0", "101", "1e3", "\u0661"])
async def test_limit_that_is_not_a_small_number_is_invalid_request(harness, limit):
    headers = await _token(harness)
    response = await harness.http.get("/v1/transactions", params={"limit": limit}, headers=headers)
    body = _error(response, 400, "INVALID_REQUEST")
    assert "limit" in body["message"]


@pytest.mark.parametrize("seq", [2**63, 2**64, 10**40])
async def test_cursor_past_sqlite_integers_is_invalid_request(harness, seq):
    headers = await _token(harness)
    cursor = base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")
    response = await harness.http.get(
        "/v1/transactions", params={"cursor": cursor}, headers=headers
    )
    body = _error(response, 400, "INVALID_REQUEST")
    assert "cursor" in body["message"]


async def test_cursor_that_is_not_utf8_is_invalid_request(harness):
    headers = await _token(harness)
    cursor = base64.urlsafe_b64encode(b"\xff\xfe").decode()
    response = await harness.http.get(
        "/v1/transactions", params={"cursor": cursor}, headers=headers
    )
    _error(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("amount", [1000, 1.5, True, None, ["1"]])
async def test_amount_that_is_not_a_decimal_string_is_refused(harness, amount):
    headers = await _token(harness)
    response = await harness.http.post(
        "/v1/transactions/send", json={"to": RECIPIENT, "amount": amount}, headers=headers
    )
    body = _error(response, 400, "INVALID_REQUEST")
    assert body["message"].startswith("amount:")


async def test_a_huge_number_anywhere_is_invalid_request(harness):
    wallet = await harness.wallet()
    body = b'{"walletId": "' + wallet["id"].encode() + b'", "expiresIn": ' + b"9" * 4301 + b"}"
    response = await harness.http.post("/v1/sessions", content=body, headers=MASTER)
    _error(response, 400, "INVALID_REQUEST")


def test_malformed_requests_to_a_real_daemon_log_no_traceback(tmp_path):
    bodies = [b"[" * 1000, b'{"name": "\\ud800"}', b'{"name": "\\u0000"}', b"\xff"]
    with running_daemon(tmp_path) as daemon, daemon.client() as http:
        for body in bodies:
            response = http.post("/v1/wallets", content=body, headers=daemon.master)
            assert response.status_code == 400, response.text
        assert http.get("/health").status_code == 200
    log = "\n".join(daemon.stderr_lines)
    assert "Traceback" not in log
    assert "RecursionError" not in log


JSON_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=8),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    raw=st.one_of(
        st.recursive(
            JSON_LEAF,
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(["name", "walletId", "amount", "x"]), inner)
            ),
            max_leaves=12,
        ).map(lambda v: {"name": v}),
        st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n),
    ),
)
async def test_generated_bodies_with_surrogates_nuls_and_huge_numbers_never_answer_5xx(
    harness, raw
):
    import json

    content = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode()
    for path in ("/v1/wallets", "/v1/sessions"):
        response = await harness.http.post(path, content=content, headers=MASTER)
        assert response.status_code < 500, response.text


# -- /v1/local-rpc: open JSON-RPC params get the limits typed fields get (issue 29) -----

RPC_ADDRESS = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"


def _rpc(params: bytes, request_id: bytes = b"1") -> bytes:
    return (
        b'{"jsonrpc": "2.0", "id": '
        + request_id
        + b', "method": "getBalance", "params": '
        + params
        + b"}"
    )


@pytest.mark.parametrize(
    "body",
    [
        _rpc(b'["' + RPC_ADDRESS.encode() + b'"]', b"1" + b"0" * 39),  # an id of 40 digits
        _rpc(b"[" * 100 + b"]" * 100),  # params nested 100 deep
        _rpc(b"[" * 32 + b"]" * 32),  # 33 levels with the body's own two
        _rpc(b"[1" + b"0" * 39 + b"]"),  # a number of 40 digits
        _rpc(b"[1." + b"0" * 39 + b"]"),
        _rpc(b"[1" + b"0" * 30 + b"e2]"),
        _rpc(b'[{"a": "x\\u0000y"}]'),  # a NUL
    ],
    ids=["id-40-digits", "nested-100", "nested-33", "int-40-digits", "float-40", "exp-31", "nul"],
)
async def test_the_local_rpc_refuses_what_every_route_refuses(harness, body):
    response = await harness.http.post("/v1/local-rpc", content=body)
    answer = _error(response, 400, "INVALID_REQUEST")
    assert answer["message"].startswith(("id", "params")), answer["message"]


async def test_the_local_rpc_still_answers_calls_within_the_limits(harness):
    deep = b"[" * 31 + b"]" * 31  # 32 levels with the body's own two
    for params in (b'["' + RPC_ADDRESS.encode() + b'", {"commitment": "confirmed"}]', deep):
        response = await harness.http.post(
            "/v1/local-rpc", content=_rpc(params, str(2**63 - 1).encode())
        )
        assert response.status_code == 200, response.text
        assert response.json()["id"] == 2**63 - 1
    balance = await harness.http.post(
        "/v1/local-rpc", content=_rpc(b'["' + RPC_ADDRESS.encode() + b'"]')
    )
    assert balance.json()["result"]["value"] == 0
