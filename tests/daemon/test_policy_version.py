"""`PUT`/`DELETE /v1/wallets/{id}/policy` with `If-Match: "<version>"`: a stale version is
409 POLICY_VERSION_CONFLICT and writes nothing; without it, the write is as before (issue #21)."""

import anyio
import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.policy_support import set_policy

pytestmark = pytest.mark.anyio


def _if_match(version) -> dict[str, str]:
    return {**MASTER, "If-Match": f'"{version}"'}


async def _put(harness, wallet_id, headers, **policy):
    return await harness.http.put(f"/v1/wallets/{wallet_id}/policy", json=policy, headers=headers)


async def _stored(harness, wallet_id):
    return (await harness.http.get(f"/v1/wallets/{wallet_id}/policy", headers=MASTER)).json()


async def _policy_entries(harness, wallet_id) -> int:
    items = (
        await harness.http.get(
            "/v1/audit", params={"walletId": wallet_id, "limit": "100"}, headers=MASTER
        )
    ).json()["items"]
    return sum(e["action"].startswith("policy.") for e in items)


async def test_a_write_at_the_version_read_applies_and_a_stale_one_conflicts(harness):
    wallet = await harness.wallet()
    first = await _put(harness, wallet["id"], _if_match(0), instantMax="1")
    assert (first.status_code, first.json()["version"]) == (200, 1)
    second = await _put(harness, wallet["id"], _if_match(1), instantMax="2")
    assert (second.status_code, second.json()["version"]) == (200, 2)
    entries = await _policy_entries(harness, wallet["id"])

    stale = await _put(harness, wallet["id"], _if_match(1), instantMax="3")
    answer = stale.json()
    assert (stale.status_code, answer["code"]) == (409, "POLICY_VERSION_CONFLICT")
    assert "version 2" in answer["message"] and "1" in answer["message"]
    assert answer["retryable"] is False
    stored = await _stored(harness, wallet["id"])
    assert (stored["version"], stored["policy"]) == (2, {"instantMax": "2"})
    assert await _policy_entries(harness, wallet["id"]) == entries  # nothing audited


async def test_a_clear_at_a_stale_version_conflicts_and_clears_nothing(harness):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], instantMax="5")
    path = f"/v1/wallets/{wallet['id']}/policy"
    stale = await harness.http.delete(path, headers=_if_match(0))
    assert (stale.status_code, stale.json()["code"]) == (409, "POLICY_VERSION_CONFLICT")
    assert (await _stored(harness, wallet["id"]))["policy"] == {"instantMax": "5"}
    cleared = await harness.http.delete(path, headers=_if_match(1))
    assert (cleared.status_code, cleared.json()["policy"], cleared.json()["version"]) == (
        200,
        {},
        2,
    )


async def test_without_a_precondition_or_with_a_star_the_write_applies_as_before(harness):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], instantMax="5")
    plain = await _put(harness, wallet["id"], MASTER, instantMax="6")
    assert (plain.status_code, plain.json()["version"]) == (200, 2)
    star = await _put(harness, wallet["id"], {**MASTER, "If-Match": "*"}, instantMax="7")
    assert (star.status_code, star.json()["version"]) == (200, 3)


@pytest.mark.parametrize("value", ["1", 'W/"1"', '"x"', '"1", "2"', '""', '"-1"', '"1e1"'])
async def test_an_if_match_that_is_not_a_quoted_version_is_a_400_naming_it(harness, value):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], instantMax="5")
    response = await _put(harness, wallet["id"], {**MASTER, "If-Match": value}, instantMax="6")
    answer = response.json()
    assert (response.status_code, answer["code"]) == (400, "INVALID_REQUEST")
    assert answer["message"].startswith("If-Match: ")
    assert (await _stored(harness, wallet["id"]))["version"] == 1


async def test_an_unknown_wallet_is_404_before_the_version_is_compared(harness):
    response = await harness.http.put(
        "/v1/wallets/00000000-0000-4000-8000-000000000000/policy",
        json={},
        headers=_if_match(7),
    )
    assert (response.status_code, response.json()["code"]) == (404, "WALLET_NOT_FOUND")


async def test_of_writes_racing_at_one_version_exactly_one_applies(harness):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], instantMax="1")
    statuses: list[int] = []

    async def write(amount: str) -> None:
        response = await _put(harness, wallet["id"], _if_match(1), instantMax=amount)
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for amount in ("2", "3", "4", "5"):
            group.start_soon(write, amount)
    assert sorted(statuses) == [200, 409, 409, 409]
    assert (await _stored(harness, wallet["id"]))["version"] == 2


async def test_the_openapi_document_describes_the_precondition_and_the_409(harness):
    document = (await harness.http.get("/openapi.json")).json()
    for method in ("put", "delete"):
        described = document["paths"]["/v1/wallets/{id}/policy"][method]
        [header] = [p for p in described["parameters"] if p["in"] == "header"]
        assert (header["name"], header["required"]) == ("If-Match", False)
        conflict = described["responses"]["409"]["content"]["application/json"]["schema"]
        assert conflict["allOf"][1]["properties"]["code"]["enum"] == ["POLICY_VERSION_CONFLICT"]
    assert "409" not in document["paths"]["/v1/wallets/{id}/policy"]["get"]["responses"]
