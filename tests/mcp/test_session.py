"""SessionManager (waiaas_mcp/session.py) on trio's MockClock: days pass in microseconds.

The daemon is an httpx.MockTransport whose answers each test scripts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from trio.testing import MockClock

from waiaas_core.atomic import write_secret_file
from waiaas_core.tokens import sign_session_token
from waiaas_mcp import session as session_module
from waiaas_mcp.session import SessionManager, SessionState
from waiaas_mcp.token_file import read_token_file_sync

# Unix time at the mock clock's zero.
BASE = 1_800_000_000
SECRET = b"k" * 32
WALLET = str(uuid.uuid4())
SESSION = str(uuid.uuid4())
TTL = 1000  # renewal at 60% of it: t = 600
DAY = 24 * 3600

pytestmark = pytest.mark.anyio

Reply = httpx.Response | Exception | Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("trio", {"clock": MockClock(autojump_threshold=0)})


def now() -> float:
    return BASE + anyio.current_time()


async def advance(seconds: float) -> None:
    """Let ``seconds`` pass on the MockClock: no real waiting, whatever the number."""
    await anyio.sleep(seconds)


def token(ttl: float = TTL, *, session_id: str = SESSION, wallet_id: str = WALLET) -> str:
    issued = int(now())
    return sign_session_token(SECRET, session_id, wallet_id, issued, int(issued + ttl))


def unsigned(payload: dict[str, Any]) -> str:
    import jwt

    return "wai_sess_" + jwt.encode(payload, "x" * 32, algorithm="HS256")


def renewed(ttl: float = TTL) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": SESSION,
            "token": token(ttl),
            "expiresAt": int(now() + ttl),
            "renewalCount": 1,
            "maxRenewals": 30,
            "absoluteExpiresAt": BASE + 30 * DAY,
        },
    )


def refused(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": code, "retryable": False})


class FakeDaemon:
    """Answers renewals from a script; records when each request came and with what token."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[float, str]] = []
        self.arrived = anyio.Event()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((anyio.current_time(), request.headers["Authorization"].split()[1]))
        self.arrived.set()
        reply = self.replies.pop(0) if self.replies else renewed()
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return await reply(request)
        return reply

    @property
    def times(self) -> list[float]:
        return [round(at, 3) for at, _ in self.calls]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "mcp-tokens" / WALLET
    path.parent.mkdir(parents=True)
    return path


async def read_inline(path: Path) -> str | None:
    return read_token_file_sync(path)


@asynccontextmanager
async def running(
    daemon: FakeDaemon, token_file: Path | None, **options: Any
) -> AsyncIterator[SessionManager]:
    transport = httpx.MockTransport(daemon.handle)
    async with httpx.AsyncClient(base_url="http://daemon.test", transport=transport) as http:
        options.setdefault("wallet_id", WALLET)
        options.setdefault("clock", now)
        # A worker thread would let the MockClock jump ahead while the file is read.
        options.setdefault("read_file", read_inline)
        async with SessionManager(http, token_file=token_file, **options) as manager:
            await manager.start()
            yield manager


# -- loading ------------------------------------------------------------------


async def test_token_from_the_environment_is_loaded_when_there_is_no_file(token_file: Path):
    env = token()
    async with running(FakeDaemon(), token_file, env_token=env) as manager:
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == env


async def test_token_from_the_file_is_loaded(token_file: Path):
    write_secret_file(token_file, token() + "\n")
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == token_file.read_text().strip()


async def test_file_token_wins_over_the_environment(token_file: Path):
    from_file = token(session_id=str(uuid.uuid4()))
    write_secret_file(token_file, from_file)
    async with running(FakeDaemon(), token_file, env_token=token()) as manager:
        assert manager.get_token() == from_file


@pytest.mark.parametrize(
    "raw",
    [
        "wai_sess_not-a-jwt",
        unsigned({"sub": SESSION, "wlt": WALLET}),  # no exp
        unsigned({"wlt": WALLET, "exp": BASE + TTL}),  # no sub
    ],
    ids=["undecodable", "no-exp", "no-sub"],
)
async def test_unreadable_token_or_missing_claims_is_an_error(token_file: Path, raw: str):
    write_secret_file(token_file, raw)
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.ERROR
        assert manager.get_token() is None


async def test_token_past_its_expiry_is_expired(token_file: Path):
    write_secret_file(token_file, unsigned({"sub": SESSION, "wlt": WALLET, "exp": BASE - 5}))
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.EXPIRED
        assert manager.get_token() is None


@pytest.mark.parametrize("exp", [BASE + 400 * DAY, BASE - 11 * 365 * DAY], ids=["future", "past"])
async def test_expiry_out_of_range_is_an_error(token_file: Path, exp: int):
    write_secret_file(token_file, unsigned({"sub": SESSION, "wlt": WALLET, "exp": exp}))
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.ERROR


async def test_token_of_another_wallet_is_an_error(token_file: Path):
    write_secret_file(token_file, token(wallet_id=str(uuid.uuid4())))
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.ERROR


async def test_no_token_at_all_is_expired_and_says_where_it_looked(token_file: Path):
    async with running(FakeDaemon(), token_file) as manager:
        assert manager.state is SessionState.EXPIRED
        assert str(token_file) in (manager.problem or "")


# -- renewal timing -----------------------------------------------------------


async def test_renewal_is_scheduled_at_60_percent_of_the_remaining_lifetime(token_file: Path):
    daemon = FakeDaemon()
    write_secret_file(token_file, token())
    async with running(daemon, token_file):
        await advance(599)
        assert daemon.calls == []
        await advance(2)
        assert daemon.times == [600]


async def test_renewal_of_a_half_used_token_comes_at_60_percent_of_what_is_left(
    token_file: Path,
):
    daemon = FakeDaemon()
    # Issued 500 s ago with 1000 s of life: 500 s remain, renewal 300 s from now.
    raw = sign_session_token(SECRET, SESSION, WALLET, BASE - 500, BASE + 500)
    write_secret_file(token_file, raw)
    async with running(daemon, token_file):
        with anyio.fail_after(3600):
            await daemon.arrived.wait()
        assert daemon.times == [300]


async def test_timer_fires_and_renews_then_schedules_the_next_renewal(token_file: Path):
    daemon = FakeDaemon()
    first = token()
    write_secret_file(token_file, first)
    async with running(daemon, token_file) as manager:
        await advance(601)
        second = manager.get_token()
        assert second != first
        assert manager.state is SessionState.ACTIVE
        assert manager.info()["renewalCount"] == 1
        await advance(600)
        assert daemon.times == [600, 1200]
        assert [sent for _, sent in daemon.calls] == [first, second]


async def test_renewed_token_is_written_to_the_file_before_memory_switches(
    token_file: Path, monkeypatch: pytest.MonkeyPatch
):
    seen_while_writing: list[str | None] = []
    real_write = session_module.write_secret_file

    def spy(path: Path, data: str) -> None:
        seen_while_writing.append(manager.get_token())
        real_write(path, data)

    monkeypatch.setattr(session_module, "write_secret_file", spy)
    first = token()
    write_secret_file(token_file, first)
    async with running(FakeDaemon(), token_file) as manager:
        await advance(601)
        assert seen_while_writing == [first]
        assert token_file.read_text().strip() == manager.get_token() != first


async def test_old_token_is_served_while_a_renewal_is_in_flight(token_file: Path):
    release = anyio.Event()

    async def slow(_request: httpx.Request) -> httpx.Response:
        await release.wait()
        return renewed()

    daemon = FakeDaemon(slow)
    first = token()
    write_secret_file(token_file, first)
    async with running(daemon, token_file) as manager:
        with anyio.fail_after(3600):
            await daemon.arrived.wait()
        assert manager.is_renewing
        assert manager.get_token() == first
        release.set()
        await advance(1)
        assert not manager.is_renewing
        assert manager.get_token() != first


async def test_a_delay_longer_than_2_to_the_31_ms_is_scheduled_and_fires(token_file: Path):
    daemon = FakeDaemon()
    write_secret_file(token_file, token(ttl=60 * DAY))  # renewal after 36 days > 24.8 days
    # One sleep for the whole wait (not 60-second pieces: 51,840 wake-ups on the fake clock).
    async with running(daemon, token_file, max_sleep=40 * DAY):
        await advance(36 * DAY - 1)
        assert daemon.calls == []
        await advance(2)
        assert daemon.times == [36 * DAY]


async def test_renewal_comes_soon_after_the_wall_clock_jumps_ahead(token_file: Path):
    # A laptop asleep: the wall clock moves on while the monotonic one stands still.
    jump = 0.0
    daemon = FakeDaemon()
    write_secret_file(token_file, token())
    async with running(daemon, token_file, clock=lambda: now() + jump, max_sleep=10):
        await advance(100)
        jump = 550.0
        await advance(11)
        assert len(daemon.calls) == 1


# -- retries ------------------------------------------------------------------


async def test_network_errors_are_retried_after_1_2_and_4_seconds_then_error(
    token_file: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="waiaas_mcp.session")
    daemon = FakeDaemon(*[httpx.ConnectError("refused")] * 4)
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(620)
        assert daemon.times == [600, 601, 603, 607]
        assert manager.state is SessionState.ERROR
        assert manager.get_token() is None
        assert manager.recovering
    retries = [r.getMessage() for r in caplog.records if "Renewal retry" in r.getMessage()]
    assert [line.split(" (")[0] for line in retries] == [
        "Renewal retry 1/3 in 1000ms",
        "Renewal retry 2/3 in 2000ms",
        "Renewal retry 3/3 in 4000ms",
    ]


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_rate_limit_and_server_errors_are_retried(token_file: Path, status: int):
    daemon = FakeDaemon(refused(status, "RATE_LIMITED"), renewed())
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(602)
        assert daemon.times == [600, 601]
        assert manager.state is SessionState.ACTIVE


async def test_a_dropped_connection_is_retried(token_file: Path):
    daemon = FakeDaemon(httpx.RemoteProtocolError("dropped"), httpx.ReadTimeout("slow"), renewed())
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(604)
        assert daemon.times == [600, 601, 603]
        assert manager.state is SessionState.ACTIVE


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "INVALID_REQUEST"),
        (401, "SESSION_REVOKED"),
        (403, "RENEWAL_LIMIT_EXCEEDED"),
        (409, "RENEWAL_CONFLICT"),
    ],
)
async def test_client_errors_are_not_retried(token_file: Path, status: int, code: str):
    daemon = FakeDaemon(refused(status, code))
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(650)
        assert daemon.times == [600]
        assert manager.state is not SessionState.ACTIVE


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (401, "SESSION_REVOKED"),
        (401, "SESSION_EXPIRED"),
        (403, "RENEWAL_LIMIT_EXCEEDED"),
        (403, "SESSION_LIFETIME_EXPIRED"),
    ],
)
async def test_limit_lifetime_and_401_make_the_session_expired(
    token_file: Path, status: int, code: str
):
    write_secret_file(token_file, token())
    async with running(FakeDaemon(refused(status, code)), token_file) as manager:
        await advance(601)
        assert manager.state is SessionState.EXPIRED
        assert manager.recovering


async def test_too_early_is_retried_once_after_30_seconds_staying_active(token_file: Path):
    daemon = FakeDaemon(refused(400, "RENEWAL_TOO_EARLY"), renewed())
    first = token()
    write_secret_file(token_file, first)
    async with running(daemon, token_file) as manager:
        await advance(601)
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == first
        await advance(30)
        assert daemon.times == [600, 630]
        assert manager.get_token() != first


async def test_too_early_twice_falls_back_to_the_normal_schedule(token_file: Path):
    too_early = refused(400, "RENEWAL_TOO_EARLY")
    daemon = FakeDaemon(too_early, too_early, renewed())
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(860)
        # 370 s were left at t = 630: the next try is 60% of them later.
        assert daemon.times == [600, 630, 852]
        assert manager.state is SessionState.ACTIVE


# -- one renewal at a time ----------------------------------------------------


async def test_a_second_renewal_while_one_is_in_flight_is_skipped(
    token_file: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="waiaas_mcp.session")
    release = anyio.Event()

    async def slow(_request: httpx.Request) -> httpx.Response:
        await release.wait()
        return renewed()

    daemon = FakeDaemon(slow)
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager, anyio.create_task_group() as tg:
        tg.start_soon(manager.renew)
        with anyio.fail_after(5):
            await daemon.arrived.wait()
        await manager.renew()
        release.set()
    assert len(daemon.calls) == 1
    assert any("already in progress" in r.getMessage() for r in caplog.records)


async def test_renewing_flag_is_reset_after_a_success(token_file: Path):
    write_secret_file(token_file, token())
    async with running(FakeDaemon(), token_file) as manager:
        await manager.renew()
        assert not manager.is_renewing
        assert manager.state is SessionState.ACTIVE


async def test_renewing_flag_is_reset_after_a_failure(token_file: Path):
    write_secret_file(token_file, token())
    daemon = FakeDaemon(httpx.ConnectError("refused"))
    async with running(daemon, token_file, retry_delays=()) as manager:
        await manager.renew()
        assert not manager.is_renewing
        assert manager.state is SessionState.ERROR


# -- conflicts through the token file -----------------------------------------


async def test_conflict_with_a_newer_token_in_the_file_adopts_it(token_file: Path):
    newer: list[str] = []

    async def sibling_renewed(_request: httpx.Request) -> httpx.Response:
        newer.append(token())
        write_secret_file(token_file, newer[0])
        return refused(409, "RENEWAL_CONFLICT")

    daemon = FakeDaemon(sibling_renewed)
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(601)
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == newer[0]
        # Rescheduled on the adopted token: 60% of its 1000 s, counted from t = 600.
        await advance(600)
        assert daemon.times == [600, 1200]
        assert daemon.calls[1][1] == newer[0]


async def test_conflict_with_the_same_token_in_the_file_expires_and_starts_recovery(
    token_file: Path,
):
    write_secret_file(token_file, token())
    daemon = FakeDaemon(refused(409, "RENEWAL_CONFLICT"))
    async with running(daemon, token_file, conflict_rereads=(1,)) as manager:
        await advance(605)
        assert manager.state is SessionState.EXPIRED
        assert manager.get_token() is None
        assert manager.recovering


async def test_conflict_waits_a_moment_for_the_winner_to_write_the_file(token_file: Path):
    newer = token(ttl=2 * TTL)

    async def conflict_then_write(_request: httpx.Request) -> httpx.Response:
        async def write_soon() -> None:
            await advance(0.5)
            write_secret_file(token_file, newer)

        tg.start_soon(write_soon)
        return refused(409, "RENEWAL_CONFLICT")

    write_secret_file(token_file, token())
    daemon = FakeDaemon(conflict_then_write)
    async with anyio.create_task_group() as tg, running(daemon, token_file) as manager:
        await advance(602)
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == newer


async def test_conflict_finds_the_token_the_daemon_writes_after_its_commit_seconds_later(
    token_file: Path,
):
    # The daemon writes mcp-tokens/<walletId> only once the winner's renewal committed,
    # which can be well after it answered our 409.
    newer = token(ttl=2 * TTL)

    async def conflict_then_commit(_request: httpx.Request) -> httpx.Response:
        async def write_after_commit() -> None:
            await advance(1.5)
            write_secret_file(token_file, newer)

        tg.start_soon(write_after_commit)
        return refused(409, "RENEWAL_CONFLICT")

    write_secret_file(token_file, token())
    daemon = FakeDaemon(conflict_then_commit)
    async with anyio.create_task_group() as tg, running(daemon, token_file) as manager:
        await advance(600 + 1.5 + 0.1)
        assert manager.state is SessionState.ACTIVE  # still looking, not given up
        await advance(1)
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() == newer
        assert len(daemon.calls) == 1


async def test_conflict_gives_up_after_its_last_look_at_the_file(token_file: Path):
    write_secret_file(token_file, token())
    daemon = FakeDaemon(refused(409, "RENEWAL_CONFLICT"))
    async with running(daemon, token_file, conflict_rereads=(0.1, 0.2)) as manager:
        await advance(600.25)
        assert manager.state is SessionState.ACTIVE
        await advance(0.1)
        assert manager.state is SessionState.EXPIRED


async def test_a_sibling_token_already_in_the_file_is_taken_instead_of_renewing(
    token_file: Path,
):
    daemon = FakeDaemon()
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        await advance(500)
        newer = token()  # another process renewed at t = 500
        write_secret_file(token_file, newer)
        await advance(101)
        assert daemon.calls == []
        assert manager.get_token() == newer


# -- recovery -----------------------------------------------------------------


async def test_recovery_finds_a_new_token_and_the_loop_stops(token_file: Path):
    async with running(FakeDaemon(), token_file, recovery_poll=60) as manager:
        assert manager.state is SessionState.EXPIRED
        assert manager.recovering
        await advance(30)
        write_secret_file(token_file, token())
        await advance(31)
        assert manager.state is SessionState.ACTIVE
        assert manager.get_token() is not None
        assert not manager.recovering


async def test_recovery_ignores_the_token_the_daemon_refused(token_file: Path):
    refused_token = token()
    write_secret_file(token_file, refused_token)
    daemon = FakeDaemon(refused(401, "SESSION_REVOKED"))
    async with running(daemon, token_file, recovery_poll=60) as manager:
        await advance(601 + 5 * 60)
        assert manager.state is SessionState.EXPIRED
        assert manager.recovering


async def test_recovery_retries_the_same_token_after_the_daemon_was_unreachable(
    token_file: Path,
):
    write_secret_file(token_file, token())
    daemon = FakeDaemon(httpx.ConnectError("down"))
    async with running(daemon, token_file, retry_delays=(), recovery_poll=60) as manager:
        await advance(601)
        assert manager.state is SessionState.ERROR
        await advance(60)
        assert manager.state is SessionState.ACTIVE


async def test_at_most_one_recovery_loop_runs(token_file: Path):
    raw = token()
    write_secret_file(token_file, raw)
    reads: list[float] = []

    async def counting(path: Path) -> str | None:
        reads.append(anyio.current_time())
        return read_token_file_sync(path)

    async with running(FakeDaemon(), token_file, recovery_poll=60, read_file=counting) as manager:
        assert await manager.recheck(raw) is None  # a 401 on it: expired, recovery starts
        assert await manager.recheck(raw) is None  # and again: still one loop
        assert manager.state is SessionState.EXPIRED
        reads.clear()
        await advance(3 * 60 + 1)
        assert len(reads) == 3


async def test_recheck_after_a_401_adopts_a_newer_file_token(token_file: Path):
    first = token()
    write_secret_file(token_file, first)
    async with running(FakeDaemon(), token_file) as manager:
        newer = token(ttl=TTL + 5)
        write_secret_file(token_file, newer)
        assert await manager.recheck(first) == newer
        assert manager.state is SessionState.ACTIVE


async def test_recheck_for_a_token_already_replaced_answers_the_current_one(token_file: Path):
    first = token()
    write_secret_file(token_file, first)
    async with running(FakeDaemon(), token_file) as manager:
        await manager.renew()
        current = manager.get_token()
        assert await manager.recheck(first) == current != first


# -- dispose ------------------------------------------------------------------


async def test_dispose_stops_the_renewal_timer(token_file: Path):
    daemon = FakeDaemon()
    write_secret_file(token_file, token())
    async with running(daemon, token_file) as manager:
        manager.dispose()
        await advance(10 * TTL)
    assert daemon.calls == []


async def test_dispose_stops_the_recovery_loop(token_file: Path):
    reads: list[Path] = []

    async def counting(path: Path) -> str | None:
        reads.append(path)
        return None

    async with running(FakeDaemon(), token_file, recovery_poll=60, read_file=counting) as manager:
        assert manager.recovering
        reads.clear()
        manager.dispose()
        assert not manager.recovering
        await advance(3600)
    assert reads == []


async def test_dispose_cancels_a_renewal_in_flight(token_file: Path):
    async def never(_request: httpx.Request) -> httpx.Response:
        await anyio.sleep_forever()
        raise AssertionError  # pragma: no cover

    daemon = FakeDaemon(never)
    write_secret_file(token_file, token())
    with anyio.fail_after(3600):
        async with running(daemon, token_file) as manager:
            await daemon.arrived.wait()
            assert manager.is_renewing
            manager.dispose()
    assert not manager.is_renewing


async def test_leaving_the_block_disposes(token_file: Path):
    daemon = FakeDaemon()
    write_secret_file(token_file, token())
    async with running(daemon, token_file):
        pass
    await advance(10 * TTL)
    assert daemon.calls == []


# -- decoding without PyJWT ------------------------------------------------------


def test_the_payload_decoder_agrees_with_core_s_and_refuses_what_is_not_a_jwt():
    from waiaas_core.tokens import decode_unverified

    raw = sign_session_token(SECRET, SESSION, WALLET, BASE, BASE + TTL)
    assert session_module.decode_payload(raw) == decode_unverified(raw)
    for bad in ("wai_sess_", "wai_sess_a.b", "wai_sess_a.!!!.c", "wai_sess_a.W10.c", "x" * 9000):
        with pytest.raises(ValueError):
            session_module.decode_payload(bad)


def test_importing_the_server_does_not_import_pyjwt():
    import subprocess
    import sys

    code = "import sys, waiaas_mcp.server; print('jwt' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
