"""masterAuth and its lockout (SPEC 4): on the fake clock, across a reopen, and a real restart."""

import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock
from tests.support.daemon import running_daemon
from waiaas_core.config import Settings
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.master import MasterGuard, after_failure, seconds_left
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import MasterLockoutRow

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


async def test_the_right_password_clears_earlier_failures(harness):
    for _ in range(4):
        await _status(harness, WRONG)
    assert await _status(harness, MASTER) == (200, None)
    for _ in range(4):
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


async def test_the_lockout_answer_carries_retry_after_in_seconds_left(harness):
    for _ in range(5):
        await _status(harness, WRONG)
    response = await harness.http.get("/v1/wallets", headers=MASTER)
    assert response.status_code == 429 and response.headers["retry-after"] == "300"
    harness.clock.advance(299.5)
    response = await harness.http.get("/v1/wallets", headers=MASTER)
    assert response.headers["retry-after"] == "1"
    harness.clock.advance(0.5)
    assert "retry-after" not in (await harness.http.get("/v1/wallets", headers=WRONG)).headers


async def test_parallel_wrong_passwords_all_count(harness):
    import anyio

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(_status, harness, WRONG)
    assert await _status(harness, MASTER) == (429, "MASTER_PASSWORD_LOCKED")


async def _open(tmp_path, clock):
    return DaemonState.open(
        Settings(),
        tmp_path / "data",
        PASSWORD,
        clock=clock,
        kdf=KdfParams(time_cost=1, memory_cost=1024, parallelism=1),
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )


async def test_a_lockout_outlives_a_reopen_of_the_daemon_state(tmp_path):
    clock = FakeClock()
    async with await _open(tmp_path, clock) as state:
        for _ in range(5):
            with pytest.raises(Exception, match="INVALID_MASTER_PASSWORD"):
                await state.master.check(b"wrong")
    clock.advance(10)
    async with await _open(tmp_path, clock) as state:
        with pytest.raises(Exception, match="MASTER_PASSWORD_LOCKED") as locked:
            await state.master.check(PASSWORD.encode())
        assert locked.value.retry_after == 290
        clock.advance(290)
        await state.master.check(PASSWORD.encode())


async def test_failures_short_of_the_count_outlive_a_reopen(tmp_path):
    clock = FakeClock()
    async with await _open(tmp_path, clock) as state:
        for _ in range(4):
            with pytest.raises(Exception, match="INVALID_MASTER_PASSWORD"):
                await state.master.check(b"wrong")
    async with await _open(tmp_path, clock) as state:
        with pytest.raises(Exception, match="INVALID_MASTER_PASSWORD"):
            await state.master.check(b"wrong")  # the fifth: still 401
        with pytest.raises(Exception, match="MASTER_PASSWORD_LOCKED"):
            await state.master.check(PASSWORD.encode())


def test_a_real_daemon_restarted_after_five_wrong_passwords_stays_locked(tmp_path):
    data = tmp_path / "data"
    with running_daemon(data) as daemon:
        for _ in range(5):
            wrong = daemon.api("GET", "/v1/wallets", headers={"X-Master-Password": "nope"})
            assert wrong.status_code == 401
    with running_daemon(data) as daemon:
        response = daemon.api("GET", "/v1/wallets")
        assert response.status_code == 429, response.text
        assert response.json()["code"] == "MASTER_PASSWORD_LOCKED"
        assert 0 < int(response.headers["retry-after"]) <= 300


def test_the_failure_that_reaches_the_count_locks_for_the_full_window():
    lockout = MasterLockoutRow()
    for n in range(4):
        lockout = after_failure(lockout, 100.0 + n, attempts=5, seconds=300)
        assert lockout.locked_until == 0.0 and len(lockout.failures) == n + 1
    lockout = after_failure(lockout, 104.0, attempts=5, seconds=300)
    assert lockout == MasterLockoutRow((), 404.0)
    assert seconds_left(lockout, 103.5) == 301 and seconds_left(lockout, 404.0) == 0


def test_failures_older_than_the_window_are_dropped():
    lockout = MasterLockoutRow((0.0, 1.0, 2.0, 3.0))
    assert after_failure(lockout, 302.5, attempts=5, seconds=300).failures == (3.0, 302.5)


async def test_non_ascii_password_works():
    guard = MasterGuard("pässwörd", attempts=5, seconds=300, clock=lambda: 0.0)
    await guard.check("pässwörd".encode())


async def test_a_shared_guard_counts_failures_another_daemon_saved():
    # Two guards over one stored lockout, as two daemons on one database are.
    stored = [MasterLockoutRow()]

    async def load() -> MasterLockoutRow:
        return stored[0]

    async def save(lockout: MasterLockoutRow) -> None:
        stored[0] = lockout

    clock = FakeClock()
    guards = [
        MasterGuard(PASSWORD, attempts=5, seconds=300, clock=clock, save=save, load=load)
        for _ in range(2)
    ]
    for n in range(5):
        with pytest.raises(WaiaasError) as failed:
            await guards[n % 2].check(b"wrong password")
        assert failed.value.code == "INVALID_MASTER_PASSWORD"
    for guard in guards:
        with pytest.raises(WaiaasError) as locked:
            await guard.check(PASSWORD.encode())
        assert locked.value.code == "MASTER_PASSWORD_LOCKED"
