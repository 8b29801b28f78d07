"""Every row of the renewal table (SPEC 5), in-process on a fake clock."""

import anyio
import pytest

from tests.daemon.conftest import MASTER
from waiaas_core.tokens import decode_unverified

pytestmark = pytest.mark.anyio


async def _session(harness, ttl=100, **body):
    wallet = await harness.wallet()
    return await harness.session(wallet["id"], expiresIn=ttl, **body)


def _code(response):
    return response.status_code, response.json()["code"]


async def test_renewal_after_half_the_ttl_issues_a_new_token_with_the_same_ttl(harness):
    session = await _session(harness, ttl=100)
    harness.clock.advance(50)
    response = await harness.renew(session)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == session["id"] and body["token"] != session["token"]
    assert body["renewalCount"] == 1 and body["maxRenewals"] == 30
    claims = decode_unverified(body["token"])
    assert claims["exp"] - claims["iat"] == 100 and body["expiresAt"] == claims["exp"]
    assert body["absoluteExpiresAt"] == int(harness.clock.now) - 50 + 2592000


async def test_row1_garbage_token_is_invalid_token(harness):
    session = await _session(harness)
    assert _code(await harness.renew(session, token="wai_sess_garbage")) == (401, "INVALID_TOKEN")


async def test_row1_missing_authorization_is_invalid_token(harness):
    session = await _session(harness)
    response = await harness.http.put(f"/v1/sessions/{session['id']}/renew")
    assert _code(response) == (401, "INVALID_TOKEN")


async def test_row1_expired_token_is_session_expired(harness):
    session = await _session(harness, ttl=100)
    harness.clock.advance(100)
    assert _code(await harness.renew(session)) == (401, "SESSION_EXPIRED")


async def test_row1_bad_token_answers_before_an_unknown_id(harness):
    response = await harness.http.put(
        "/v1/sessions/not-a-uuid/renew", headers={"Authorization": "Bearer wai_sess_x"}
    )
    assert _code(response) == (401, "INVALID_TOKEN")


async def test_row2_another_sessions_id_is_not_found(harness):
    first = await _session(harness)
    other = await harness.session(first["walletId"], expiresIn=100)
    harness.clock.advance(60)
    response = await harness.http.put(
        f"/v1/sessions/{other['id']}/renew",
        headers={"Authorization": f"Bearer {first['token']}"},
    )
    assert _code(response) == (404, "SESSION_NOT_FOUND")


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000"])
async def test_row2_unknown_or_malformed_id_is_not_found(harness, bad_id):
    session = await _session(harness)
    harness.clock.advance(60)
    response = await harness.http.put(
        f"/v1/sessions/{bad_id}/renew", headers={"Authorization": f"Bearer {session['token']}"}
    )
    assert _code(response) == (404, "SESSION_NOT_FOUND")


async def test_row3_revoked_session_is_session_revoked(harness):
    session = await _session(harness)
    await harness.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
    harness.clock.advance(60)
    assert _code(await harness.renew(session)) == (401, "SESSION_REVOKED")


async def test_row4_second_renewal_with_same_token_conflicts(harness):
    session = await _session(harness)
    harness.clock.advance(60)
    assert (await harness.renew(session)).status_code == 200
    assert _code(await harness.renew(session)) == (409, "RENEWAL_CONFLICT")


async def test_row5_renewal_limit(harness):
    harness.configure(max_renewals=2)
    session = await _session(harness, ttl=100)
    token = session["token"]
    for _ in range(2):
        harness.clock.advance(60)
        response = await harness.renew(session, token)
        assert response.status_code == 200
        token = response.json()["token"]
    harness.clock.advance(60)
    assert _code(await harness.renew(session, token)) == (403, "RENEWAL_LIMIT_EXCEEDED")


async def test_row6_lowered_absolute_lifetime_is_lifetime_expired(harness):
    session = await _session(harness, ttl=100)
    harness.clock.advance(60)
    harness.configure(absolute_lifetime=30)
    assert _code(await harness.renew(session)) == (403, "SESSION_LIFETIME_EXPIRED")


async def test_row7_too_early_is_retryable(harness):
    session = await _session(harness, ttl=100)
    harness.clock.advance(49)
    response = await harness.renew(session)
    assert _code(response) == (400, "RENEWAL_TOO_EARLY")
    assert response.json()["retryable"] is True


async def test_checks_answer_in_table_order(harness):
    # Revoked (3) and already renewed (4) and too early (7) at once: 3 wins.
    session = await _session(harness, ttl=100)
    harness.clock.advance(50)
    assert (await harness.renew(session)).status_code == 200
    await harness.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
    assert _code(await harness.renew(session)) == (401, "SESSION_REVOKED")


async def test_new_expiry_is_capped_at_the_absolute_expiry(harness):
    harness.configure(absolute_lifetime=150)
    session = await _session(harness, ttl=100)
    assert session["expiresAt"] == int(harness.clock.now) + 100
    harness.clock.advance(60)
    body = (await harness.renew(session)).json()
    assert body["expiresAt"] == body["absoluteExpiresAt"] == int(harness.clock.now) - 60 + 150


async def test_creation_caps_expiry_at_the_absolute_lifetime(harness):
    harness.configure(absolute_lifetime=50)
    session = await _session(harness, ttl=100)
    assert session["expiresAt"] == int(harness.clock.now) + 50


async def test_old_token_works_inside_the_grace_and_not_after(harness):
    harness.configure(renewal_grace=60)
    session = await _session(harness, ttl=200)
    harness.clock.advance(100)
    new_token = (await harness.renew(session)).json()["token"]
    harness.clock.advance(59)
    assert (await harness.as_agent(session["token"])).status_code == 200
    assert (await harness.as_agent(new_token)).status_code == 200
    harness.clock.advance(1)
    assert _code(await harness.as_agent(session["token"])) == (401, "INVALID_TOKEN")
    assert (await harness.as_agent(new_token)).status_code == 200


async def test_revoked_sessions_token_is_refused_at_once(harness):
    session = await _session(harness)
    assert (await harness.as_agent(session["token"])).status_code == 200
    await harness.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
    assert _code(await harness.as_agent(session["token"])) == (401, "SESSION_REVOKED")


async def test_twenty_parallel_renewals_exactly_one_wins(harness):
    session = await _session(harness)
    harness.clock.advance(60)
    results = []

    async def renew():
        results.append(await harness.renew(session))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(renew)
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"RENEWAL_CONFLICT"}


async def test_a_token_used_before_is_refused_once_it_expires(harness):
    session = await _session(harness, ttl=100)
    assert (await harness.as_agent(session["token"])).status_code == 200
    harness.clock.advance(100)
    assert _code(await harness.as_agent(session["token"])) == (401, "SESSION_EXPIRED")
