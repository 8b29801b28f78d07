"""The wallet policy routes: the owner's GET/PUT/DELETE with validation, the agent's view."""

import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.policy_support import SOL, address, funded, recipient, send, set_policy

pytestmark = pytest.mark.anyio

MINT = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
FULL = {
    "instantMax": "100000000",
    "notifyMax": "1000000000",
    "delayMax": "5000000000",
    "delaySeconds": 900,
    "approvalTimeout": 3600,
    "dailyLimit": "10000000000",
    "monthlyLimit": "100000000000",
    "allowedRecipients": [MINT],
    "maxSendsPerHour": 60,
    "autoSuspendAfterDenials": 10,
    "tokens": {
        MINT: {
            "instantMax": "1",
            "notifyMax": "2",
            "delayMax": "3",
            "dailyLimit": "4",
            "monthlyLimit": "5",
        }
    },
    "allowedTokens": [MINT],
}


async def test_a_wallet_without_a_policy_has_version_0_and_an_empty_one(harness):
    wallet = await harness.wallet()
    response = await harness.http.get(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert response.json() == {
        "walletId": wallet["id"],
        "version": 0,
        "updatedAt": None,
        "policy": {},
    }


async def test_put_stores_every_field_and_counts_versions(harness):
    wallet = await harness.wallet()
    first = await set_policy(harness, wallet["id"], **FULL)
    assert (first["version"], first["policy"], first["updatedAt"]) == (1, FULL, 1_800_000_000)
    second = await set_policy(harness, wallet["id"], instantMax="5")
    assert (second["version"], second["policy"]) == (2, {"instantMax": "5"})
    got = await harness.http.get(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert got.json() == second


async def test_delete_resets_the_policy_to_empty_and_moves_the_version(harness):
    wallet = await harness.wallet()
    await set_policy(harness, wallet["id"], **FULL)
    cleared = await harness.http.delete(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert (cleared.json()["version"], cleared.json()["policy"]) == (2, {})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instantMax": "-1"}, "instantMax"),
        ({"instantMax": "1.5"}, "instantMax"),
        ({"instantMax": 100}, "instantMax"),
        ({"notifyMax": str(2**64)}, "notifyMax"),
        ({"instantMax": "10", "notifyMax": "9"}, "notifyMax"),
        ({"notifyMax": "10", "delayMax": "9"}, "delayMax"),
        ({"instantMax": "10", "delayMax": "9"}, "delayMax"),
        ({"dailyLimit": "10", "monthlyLimit": "9"}, "monthlyLimit"),
        ({"delaySeconds": -1}, "delaySeconds"),
        ({"delaySeconds": 1.5}, "delaySeconds"),
        ({"approvalTimeout": 0}, "approvalTimeout"),
        ({"maxSendsPerHour": 0}, "maxSendsPerHour"),
        ({"autoSuspendAfterDenials": -1}, "autoSuspendAfterDenials"),
        ({"allowedRecipients": ["nope"]}, "allowedRecipients[0]"),
        ({"allowedTokens": ["0" * 44]}, "allowedTokens[0]"),
        ({"tokens": {"nope": {}}}, "tokens.nope"),
        # msgspec names a map entry "[...]"; the key is checked after decoding.
        ({"tokens": {MINT: {"instantMax": "x"}}}, "tokens[...].instantMax"),
        ({"tokens": {MINT: {"instantMax": "5", "notifyMax": "4"}}}, f"tokens.{MINT}.notifyMax"),
        ({"tokens": {MINT: {"delaySeconds": 5}}}, "delaySeconds"),
        ({"instantmax": "1"}, "instantmax"),
    ],
)
async def test_a_bad_policy_is_refused_naming_the_field(harness, body, field):
    wallet = await harness.wallet()
    response = await harness.http.put(
        f"/v1/wallets/{wallet['id']}/policy", json=body, headers=MASTER
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("INVALID_REQUEST", "INVALID_ADDRESS")
    assert field in response.json()["message"]
    got = await harness.http.get(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert got.json()["version"] == 0


async def test_policy_of_an_unknown_wallet_is_not_found(harness):
    response = await harness.http.put(
        "/v1/wallets/00000000-0000-4000-8000-000000000000/policy", json={}, headers=MASTER
    )
    assert (response.status_code, response.json()["code"]) == (404, "WALLET_NOT_FOUND")


async def test_the_agent_sees_its_rules_and_what_they_leave(harness):
    wallet, headers, _ = await funded(harness, constraints={"maxAmountPerDay": str(3 * SOL)})
    bob = await recipient(harness)
    await set_policy(
        harness,
        wallet["id"],
        dailyLimit=str(5 * SOL),
        monthlyLimit=str(8 * SOL),
        maxSendsPerHour=10,
    )
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    view = (await harness.http.get("/v1/wallet/policy", headers=headers)).json()
    assert view == {
        "policy": {"dailyLimit": str(5 * SOL), "monthlyLimit": str(8 * SOL), "maxSendsPerHour": 10},
        "version": 1,
        "constraints": {"maxAmountPerDay": str(3 * SOL)},
        # The session's cap is the tighter one for the day.
        "remaining": {
            "daily": str(2 * SOL),
            "monthly": str(7 * SOL),
            "sendsThisHour": 9,
            "tokens": {},
        },
    }


async def test_the_agent_without_any_limit_sees_nulls(harness):
    _, headers, _ = await funded(harness)
    view = (await harness.http.get("/v1/wallet/policy", headers=headers)).json()
    assert view == {
        "policy": {},
        "version": 0,
        "constraints": None,
        "remaining": {"daily": None, "monthly": None, "sendsThisHour": None, "tokens": {}},
    }


async def test_a_recipient_outside_the_policy_is_denied_naming_the_rule(harness):
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], allowedRecipients=[bob])
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    denied = await send(harness, headers, address(), SOL)
    assert (denied.status_code, denied.json()["code"]) == (403, "POLICY_DENIED")
    assert "allowedRecipients" in denied.json()["message"]
