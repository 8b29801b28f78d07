"""The supervisor of background workers, on a fake clock and a fake sleep: restarts with
backoff, one log line per failure streak, one worker's crash never stops another."""

from __future__ import annotations

import logging
import sqlite3
from functools import partial

import anyio
import anyio.lowlevel
import pytest

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.workers import STORAGE, Workers, backoff_delay, describe, supervise
from waiaas_daemon.storage.interface import StorageUnavailable

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_from_one_second_to_the_cap():
    assert [backoff_delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(10_000) == 60


def test_a_failure_is_described_by_its_code_or_class_never_its_message():
    secret = "postgresql://waiaas:hunter2@db/waiaas"
    assert describe(OSError(secret)) == "OSError"
    assert describe(WaiaasError("CHAIN_ERROR", secret)) == "CHAIN_ERROR"


def test_one_warning_when_a_streak_starts_and_one_line_when_it_ends(caplog):
    clock = Clock()
    workers = Workers(clock)
    with caplog.at_level(logging.DEBUG, logger="waiaas.workers"):
        delays = [workers.failed("scheduler", WaiaasError("CHAIN_ERROR")) for _ in range(5)]
        clock.now += 31
        [trouble] = workers.troubles()
        workers.ok("scheduler")
        workers.ok("scheduler")
    assert delays == [1, 2, 4, 8, 16]
    assert (trouble.worker, trouble.since, trouble.failures, trouble.error) == (
        "scheduler",
        1_000.0,
        5,
        "CHAIN_ERROR",
    )
    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.levelname for r in loud] == ["WARNING", "INFO"]
    assert "working again after 5 failure(s) over 31 s" in loud[1].getMessage()
    assert workers.troubles() == []


def test_a_streak_that_changes_cause_says_so_once_per_cause(caplog):
    # The database came back but the send now fails on the chain: an operator reading
    # only "failing (StorageUnavailable)" would wait for a database that is there.
    workers = Workers(Clock())
    gone = [sqlite3.OperationalError("database is locked"), StorageUnavailable("refused")]
    with caplog.at_level(logging.DEBUG, logger="waiaas.workers"):
        for error in [*gone, *gone, WaiaasError("CHAIN_ERROR"), WaiaasError("CHAIN_ERROR")]:
            workers.failed("scheduler", error)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    scheduler = [line for line in said if line.startswith("scheduler")]
    assert len(scheduler) == 2, said
    assert "failing (OperationalError)" in scheduler[0]
    assert "now failing (CHAIN_ERROR), 5 in a row" in scheduler[1]
    [trouble] = [t for t in workers.troubles() if t.worker == "scheduler"]
    assert (trouble.failures, trouble.error) == (6, "CHAIN_ERROR")


async def test_a_database_failure_of_a_worker_marks_the_storage_lost_once(caplog):
    workers = Workers(Clock())
    locked = sqlite3.OperationalError("database is locked")
    with caplog.at_level(logging.INFO, logger="waiaas.workers"):
        workers.failed("notifications", locked)
        workers.failed("scheduler", locked)
    assert {t.worker for t in workers.troubles()} == {"notifications", "scheduler", STORAGE}
    outage = [r for r in caplog.records if "database is unavailable" in r.getMessage()]
    assert len(outage) == 1
    with anyio.fail_after(1):
        await workers.wait_storage_lost()  # set: the storage watch starts probing
    workers.storage_back()
    assert STORAGE not in {t.worker for t in workers.troubles()}
    assert any("the database is back" in r.getMessage() for r in caplog.records)


async def test_a_crashing_worker_is_restarted_after_its_backoff_and_never_stops_another(caplog):
    workers = Workers(Clock())
    slept: list[float] = []
    runs = 0
    steady = anyio.Event()
    beats = 0

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        await anyio.lowlevel.checkpoint()

    async def crashing() -> None:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError("boom")
        workers.ok("crashing")
        await anyio.sleep_forever()

    async def other() -> None:
        nonlocal beats
        while True:
            beats += 1
            if runs > 3 and beats > 5:
                steady.set()
            await anyio.lowlevel.checkpoint()

    with caplog.at_level(logging.DEBUG, logger="waiaas.workers"):
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                for name, run in (("crashing", crashing), ("other", other)):
                    group.start_soon(partial(supervise, name, run, workers, sleep=fake_sleep))
                await steady.wait()
                group.cancel_scope.cancel()
    assert runs == 4
    assert slept == [1, 2, 4]
    assert workers.troubles() == []
    # An unexpected error: its traceback once for the streak, not once per retry.
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "crashing stopped" in tracebacks[0].getMessage()


async def test_a_worker_that_returns_is_started_again():
    workers = Workers(Clock())
    runs = 0
    done = anyio.Event()

    async def returns() -> None:
        nonlocal runs
        runs += 1
        if runs == 2:
            done.set()
            await anyio.sleep_forever()

    async def no_wait(seconds: float) -> None:
        await anyio.lowlevel.checkpoint()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(partial(supervise, "returns", returns, workers, sleep=no_wait))
            await done.wait()
            [trouble] = workers.troubles()
            group.cancel_scope.cancel()
    assert (trouble.worker, trouble.error) == ("returns", "stopped")


async def test_a_sqlite_file_locked_by_another_process_is_503_then_back(harness, caplog):
    # Another process (a backup tool, an sqlite3 shell) holds the write lock. The
    # daemon's wait for it (busy_timeout, 5 s) is set to nothing here: no real wait.
    from tests.daemon.conftest import PASSWORD
    from waiaas_daemon.domain.workers import watch_storage

    state = harness.state
    await state.db._writer.execute("PRAGMA busy_timeout = 0")  # type: ignore[attr-defined]
    other = sqlite3.connect(harness.state.data_dir / "waiaas.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.INFO, logger="waiaas.workers"):
            for _ in range(3):
                refused = await harness.http.post(
                    "/v1/wallets", json={"name": "w"}, headers={"X-Master-Password": PASSWORD}
                )
                assert refused.status_code == 503, refused.text
                assert refused.json()["code"] == "STORAGE_UNAVAILABLE"
                assert refused.json()["retryable"] is True
                assert refused.headers["Retry-After"] == "5"
        assert [t.worker for t in state.workers.troubles()] == [STORAGE]
        outage = [r for r in caplog.records if "database is unavailable" in r.getMessage()]
        assert len(outage) == 1 and not any(r.exc_info for r in caplog.records)
    finally:
        other.rollback()
        other.close()

    probes: list[float] = []

    async def no_wait(seconds: float) -> None:
        probes.append(seconds)
        await anyio.lowlevel.checkpoint()

    with anyio.move_on_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(partial(watch_storage, state.db, state.workers, sleep=no_wait))
            while state.workers.failing(STORAGE):
                await anyio.sleep(0.01)
            group.cancel_scope.cancel()
    assert state.workers.troubles() == []
    created = await harness.http.post(
        "/v1/wallets", json={"name": "w"}, headers={"X-Master-Password": PASSWORD}
    )
    assert created.status_code == 201, created.text
