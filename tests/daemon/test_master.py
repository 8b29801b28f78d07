"""masterAuth and its lockout (SPEC 4), on the fake clock."""

import pytest

from tests.daemon.conftest import MASTER

pytestmark = pytest.mark.anyio

WRONG = {"X-Master-Password": "wrong"}


async def _status(harness, headers):
    response = await harness.http.get("/v1/wallets", headers=headers)
    return response.status_code, response.json().get("code")


async def test_missing_or_wrong_password_is_401(harness):
    assert await _status(harness, {}) == (401, "INVALID_MASTER_PASSWORD")
    assert await _status(harness, WRONG) == (401, "INVALID_MASTER_PASSWORD")
    assert await _status(harness, MASTER) == (200, None)


async def test_sixth_attempt_is_locked_even_with_the_right_password(harness):
    for _ in range(5):
        assert await _status(harness, WRONG) == (401, "INVALID_MASTER_PASSWORD")
    assert await _status(harness, MASTER) == (429, "MASTER_PASSWORD_LOCKED")
    harness.clock.advance(299)
    assert await _status(harness, MASTER) == (429, "MASTER_PASSWORD_LOCKED")
    harness.clock.advance(1)
    assert await _status(harness, MASTER) == (200, None)


async def test_failures_outside_the_window_do_not_add_up(harness):
    for _ in range(4):
        await _status(harness, WRONG)
    harness.clock.advance(300)
    assert await _status(harness, WRONG) == (401, "INVALID_MASTER_PASSWORD")
    assert await _status(harness, MASTER) == (200, None)


async def test_lockout_blocks_every_master_route_but_not_agents(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    for _ in range(5):
        await _status(harness, WRONG)
    response = await harness.http.post("/v1/wallets", json={"name": "x"}, headers=MASTER)
    assert response.status_code == 429 and response.json()["retryable"] is False
    assert (await harness.as_agent(session["token"])).status_code == 200


async def test_non_ascii_password_works(tmp_path):
    from waiaas_daemon.master import MasterGuard

    guard = MasterGuard("pässwörd", attempts=5, seconds=300, clock=lambda: 0.0)
    guard.check("pässwörd".encode())
