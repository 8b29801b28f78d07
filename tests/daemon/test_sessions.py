import anyio
import pytest

from tests.daemon.conftest import MASTER

pytestmark = pytest.mark.anyio

RECIPIENT = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"


async def test_create_session_answers_token_and_expiry(harness):
    wallet = await harness.wallet()
    body = await harness.session(wallet["id"], expiresIn=600)
    assert set(body) == {"id", "token", "expiresAt", "walletId"}
    assert body["token"].startswith("wai_sess_")
    assert body["expiresAt"] == int(harness.clock.now) + 600


async def test_default_ttl_is_session_ttl(harness):
    wallet = await harness.wallet()
    body = await harness.session(wallet["id"])
    assert body["expiresAt"] == int(harness.clock.now) + 3600


@pytest.mark.parametrize("expires_in", [9, 604801, "600", 1.5, True])
async def test_expires_in_out_of_bounds_or_wrong_type_is_invalid(harness, expires_in):
    wallet = await harness.wallet()
    response = await harness.http.post(
        "/v1/sessions", json={"walletId": wallet["id"], "expiresIn": expires_in}, headers=MASTER
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert "expiresIn" in response.json()["message"]


async def test_unknown_wallet_is_wallet_not_found(harness):
    response = await harness.http.post(
        "/v1/sessions", json={"walletId": "00000000-0000-4000-8000-000000000000"}, headers=MASTER
    )
    assert (response.status_code, response.json()["code"]) == (404, "WALLET_NOT_FOUND")


async def test_terminated_wallet_gets_no_session(harness):
    wallet = await harness.wallet()
    await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    response = await harness.http.post(
        "/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER
    )
    assert (response.status_code, response.json()["code"]) == (403, "WALLET_TERMINATED")


async def test_session_limit_counts_only_active_sessions(harness):
    wallet = await harness.wallet()
    sessions = [await harness.session(wallet["id"], expiresIn=100) for _ in range(5)]
    over = await harness.http.post("/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER)
    assert (over.status_code, over.json()["code"]) == (403, "SESSION_LIMIT_EXCEEDED")
    await harness.http.delete(f"/v1/sessions/{sessions[0]['id']}", headers=MASTER)
    await harness.session(wallet["id"], expiresIn=100)
    harness.clock.advance(100)  # all expire
    await harness.session(wallet["id"])


async def test_thirty_parallel_creations_never_pass_the_limit(harness):
    wallet = await harness.wallet()
    statuses = []

    async def create():
        response = await harness.http.post(
            "/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER
        )
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for _ in range(30):
            group.start_soon(create)
    assert sorted(statuses) == [201] * 5 + [403] * 25
    listed = await harness.http.get(f"/v1/sessions?walletId={wallet['id']}", headers=MASTER)
    assert [s["status"] for s in listed.json()["items"]].count("ACTIVE") == 5


async def test_list_shows_status_of_each_session(harness):
    wallet = await harness.wallet()
    other = await harness.wallet("other")
    active = await harness.session(wallet["id"], expiresIn=1000, label="agent")
    revoked = await harness.session(wallet["id"], expiresIn=1000)
    expiring = await harness.session(wallet["id"], expiresIn=10)
    await harness.session(other["id"])
    await harness.http.delete(f"/v1/sessions/{revoked['id']}", headers=MASTER)
    harness.clock.advance(10)
    response = await harness.http.get(f"/v1/sessions?walletId={wallet['id']}", headers=MASTER)
    items = {s["id"]: s for s in response.json()["items"]}
    assert {i: s["status"] for i, s in items.items()} == {
        active["id"]: "ACTIVE",
        revoked["id"]: "REVOKED",
        expiring["id"]: "EXPIRED",
    }
    first = items[active["id"]]
    assert first["label"] == "agent" and first["renewalCount"] == 0
    assert first["maxRenewals"] == 30 and first["lastRenewedAt"] is None
    assert first["absoluteExpiresAt"] == first["createdAt"] + 2592000
    everything = await harness.http.get("/v1/sessions", headers=MASTER)
    assert len(everything.json()["items"]) == 4


async def test_revoke_is_idempotent(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    for _ in range(2):
        response = await harness.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
        assert response.json() == {"id": session["id"], "status": "REVOKED"}


async def test_revoke_unknown_session_is_not_found(harness):
    response = await harness.http.delete(
        "/v1/sessions/00000000-0000-4000-8000-000000000000", headers=MASTER
    )
    assert response.json()["code"] == "SESSION_NOT_FOUND"


async def test_constraints_are_stored_in_canonical_form(harness):
    wallet = await harness.wallet()
    constraints = {
        "maxAmountPerTx": "1000",
        "maxAmountPerDay": "5000",
        "allowedRecipients": [RECIPIENT],
    }
    session = await harness.session(wallet["id"], constraints=constraints)
    listed = await harness.http.get("/v1/sessions", headers=MASTER)
    stored = next(s for s in listed.json()["items"] if s["id"] == session["id"])["constraints"]
    assert stored == {
        "maxAmountPerTx": "1000",
        "maxAmountPerDay": "5000",
        "allowedRecipients": [RECIPIENT],
    }


@pytest.mark.parametrize(
    ("constraints", "code"),
    [
        ({"maxAmountPerTx": "-1"}, "INVALID_REQUEST"),
        # Amounts are decimal strings: a JSON number loses precision past 2^53 in
        # most clients, so it is refused rather than guessed at.
        ({"maxAmountPerTx": 1000}, "INVALID_REQUEST"),
        ({"maxAmountPerTx": "0"}, "INVALID_REQUEST"),
        ({"maxAmountPerDay": str(2**64)}, "INVALID_REQUEST"),
        ({"allowedRecipients": ["not-an-address"]}, "INVALID_ADDRESS"),
        ({"allowedRecipients": "x"}, "INVALID_REQUEST"),
        ({"maxAmount": "1"}, "INVALID_REQUEST"),
        ([], "INVALID_REQUEST"),
    ],
)
async def test_bad_constraints_are_refused(harness, constraints, code):
    wallet = await harness.wallet()
    response = await harness.http.post(
        "/v1/sessions", json={"walletId": wallet["id"], "constraints": constraints}, headers=MASTER
    )
    assert (response.status_code, response.json()["code"]) == (400, code)


async def test_mcp_label_replaces_the_earlier_mcp_session(harness):
    wallet = await harness.wallet()
    plain = await harness.session(wallet["id"])
    first = await harness.session(wallet["id"], label="mcp")
    second = await harness.session(wallet["id"], label="mcp")
    listed = await harness.http.get("/v1/sessions", headers=MASTER)
    status = {s["id"]: s["status"] for s in listed.json()["items"]}
    assert status == {plain["id"]: "ACTIVE", first["id"]: "REVOKED", second["id"]: "ACTIVE"}


async def test_mcp_setup_repeated_never_hits_the_limit(harness):
    wallet = await harness.wallet()
    for _ in range(4):
        await harness.session(wallet["id"])
    for _ in range(10):
        await harness.session(wallet["id"], label="mcp")
