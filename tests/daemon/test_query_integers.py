"""Every integer query parameter of every route takes plain decimal digits only (issue #21).

The routes are walked, not listed: a new route with an integer parameter is checked too.
"""

import re
import uuid

import msgspec
import pytest

from tests.daemon.conftest import MASTER

pytestmark = pytest.mark.anyio

NOT_DIGITS = ["1e1", "5.0", "5.", "+5", "-5", " 5", "5 ", "0x5", "1_0", "", "five"]
NOT_DIGITS += ["\u0665", "\uff15", "1" * 21]  # Arabic-Indic and full-width five; too long


def _int_params(model) -> list[str]:
    names = []
    for found in msgspec.inspect.type_info(model).fields:
        kind = found.type
        if isinstance(kind, msgspec.inspect.Metadata):
            kind = kind.type
        kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        if any(isinstance(k, msgspec.inspect.IntType) for k in kinds):
            names.append(found.encode_name)
    return names


def _integer_query_params(app) -> list[tuple[str, str, str]]:
    found = []
    for route in app.routes:
        operation = getattr(getattr(route, "endpoint", None), "operation", None)
        if operation is None or operation.query is None:
            continue
        [method] = sorted(route.methods - {"HEAD"})
        assert method == "GET"
        found += [(route.path, operation.auth, name) for name in _int_params(operation.query)]
    return found


async def _headers(harness, auth):
    if auth == "master":
        return MASTER
    if auth == "session":
        wallet = await harness.wallet(f"w{uuid.uuid4().hex[:8]}")
        session = await harness.session(wallet["id"])
        return {"Authorization": f"Bearer {session['token']}"}
    return {}


def _path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)


async def test_the_walk_finds_the_integer_parameters_we_know(harness):
    found = {(path, name) for path, _, name in _integer_query_params(harness.http._transport.app)}
    assert {
        ("/v1/transactions", "limit"),
        ("/v1/audit", "limit"),
        ("/v1/admin/notifications", "limit"),
    } <= found


async def test_every_integer_query_param_refuses_anything_but_decimal_digits(harness):
    checked = 0
    for template, auth, name in _integer_query_params(harness.http._transport.app):
        headers = await _headers(harness, auth)
        path = _path(template)
        fine = await harness.http.get(path, params={name: "5"}, headers=headers)
        assert fine.status_code == 200, (path, name, fine.text)
        also_fine = await harness.http.get(path, params={name: "05"}, headers=headers)
        assert also_fine.status_code == 200, (path, name, also_fine.text)
        for text in NOT_DIGITS:
            response = await harness.http.get(path, params={name: text}, headers=headers)
            answer = response.json()
            assert (response.status_code, answer["code"]) == (400, "INVALID_REQUEST"), (
                path,
                name,
                text,
                answer,
            )
            assert answer["message"].startswith(f"{name}: "), answer
            checked += 1
    assert checked >= 3 * len(NOT_DIGITS)


async def test_a_limit_in_range_still_pages_and_out_of_range_names_the_field(harness):
    await harness.wallet("a")
    await harness.wallet("b")
    response = await harness.http.get("/v1/audit", params={"limit": "101"}, headers=MASTER)
    assert (response.status_code, response.json()["message"][:7]) == (400, "limit: ")
    response = await harness.http.get("/v1/audit", params={"limit": "1"}, headers=MASTER)
    assert response.status_code == 200 and len(response.json()["items"]) == 1
