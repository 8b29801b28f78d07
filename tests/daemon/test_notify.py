"""The notification outbox and its worker, against a real SQLite file and a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import time

import anyio
import pytest

from tests.daemon.notify_receiver import FakeClock, eventually, receiving
from waiaas_core.config import Settings
from waiaas_daemon.domain.audit import SecretInAudit
from waiaas_daemon.domain.notify import Notifier, list_deliveries, outbox, settings_view
from waiaas_daemon.storage import Database

pytestmark = pytest.mark.anyio

WALLET = "0b7d2a52-5a0e-4a39-9d39-3f7c9f0e2d11"
SECRET = "whsec_test_7f3a9c"
BOT_TOKEN = "123456:AAbbCCddEEff_secret"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "waiaas.db"


async def enqueue(db, notifier, event_type="tx_denied", data=None, *, at):
    async with db.transaction() as conn:
        return await notifier.enqueue(
            conn,
            event_type,
            WALLET,
            data or {"amount": "5", "to": "Dest", "rule": "maxAmount"},
            at=at,
        )


async def rows(db):
    return [
        dict(r)
        for r in await db._reader.execute_fetchall(
            "SELECT * FROM notification_deliveries ORDER BY seq"
        )
    ]


async def all_finished(db):
    found = await rows(db)
    return found if found and all(r["status"] != "pending" for r in found) else None


async def test_webhook_body_and_signature_verify_with_the_receivers_own_hmac(path):
    clock = FakeClock()
    async with receiving() as receiver, Database.open(path) as db:
        settings = Settings(webhook_url=f"{receiver.url}/hook", webhook_secret=SECRET)
        notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep)
        async with notifier.running():
            event_id = await enqueue(db, notifier, at=clock())
            await eventually(lambda: receiver.ok("/hook"))
    got = receiver.ok("/hook")[0]
    assert json.loads(got.body) == {
        "id": event_id,
        "type": "tx_denied",
        "at": int(clock.now) if False else 1_800_000_000,
        "walletId": WALLET,
        "data": {"amount": "5", "to": "Dest", "rule": "maxAmount"},
    }
    assert got.headers["x-waiaas-event-id"] == event_id
    assert got.headers["content-type"] == "application/json"
    parts = dict(p.split("=", 1) for p in got.headers["x-waiaas-signature"].split(","))
    mine = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + got.body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], mine.hexdigest())
    assert int(parts["t"]) == 1_800_000_000


async def test_a_webhook_without_a_secret_is_sent_unsigned(path):
    async with receiving() as receiver, Database.open(path) as db:
        notifier = Notifier(db, Settings(webhook_url=f"{receiver.url}/hook"))
        async with notifier.running():
            await enqueue(db, notifier, at=time.time())
            await eventually(lambda: receiver.ok("/hook"))
    assert "x-waiaas-signature" not in receiver.ok("/hook")[0].headers


async def test_a_receiver_failing_twice_then_succeeding_gets_each_event_once_per_event_id(path):
    clock = FakeClock()
    async with receiving() as receiver, Database.open(path) as db:
        receiver.status_for = lambda p, h, n: 503 if n <= 2 else 200
        notifier = Notifier(
            db, Settings(webhook_url=f"{receiver.url}/hook"), clock=clock, sleep=clock.sleep
        )
        async with notifier.running():
            ids = [await enqueue(db, notifier, at=clock()) for _ in range(5)]
            finished = await eventually(lambda: all_finished(db))
    accepted = [r.headers["x-waiaas-event-id"] for r in receiver.ok("/hook")]
    assert sorted(accepted) == sorted(ids)  # each exactly once
    assert len(receiver.received) == 15
    assert [(r["status"], r["attempts"]) for r in finished] == [("delivered", 3)] * 5
    # Backoff ran on the injected clock: 1 s, then 2 s, before the third attempt.
    assert 1.0 in clock.slept and 2.0 in clock.slept and clock.now - 1_800_000_000 >= 3


async def test_a_failing_channel_is_retried_alone(path):
    clock = FakeClock()
    async with receiving() as receiver, Database.open(path) as db:
        receiver.status_for = lambda p, h, n: 500 if p == "/hook" and n <= 4 else 200
        settings = Settings(webhook_url=f"{receiver.url}/hook", ntfy_url=f"{receiver.url}/topic")
        notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep)
        async with notifier.running():
            await enqueue(db, notifier, at=clock())
            finished = await eventually(lambda: all_finished(db))
    assert len(receiver.ok("/topic")) == 1 and len(receiver.received) == 6
    assert {r["channel"]: r["attempts"] for r in finished} == {"webhook": 5, "ntfy": 1}


async def test_a_hanging_receiver_delays_neither_enqueue_nor_other_channels(path):
    async with receiving() as receiver, Database.open(path) as db:
        receiver.hang_paths.add("/hook")
        settings = Settings(webhook_url=f"{receiver.url}/hook", ntfy_url=f"{receiver.url}/topic")
        notifier = Notifier(db, settings, timeout=30)
        async with notifier.running():
            ids, took = [], []
            for _ in range(5):
                start = time.perf_counter()
                ids.append(await enqueue(db, notifier, at=time.time()))
                took.append(time.perf_counter() - start)
                count = len(ids)
                await eventually(lambda: len(receiver.ok("/topic")) == count)  # noqa: B023
            assert max(took) < 0.2
            assert len(receiver.ok("/topic")) == 5 and receiver.ok("/hook") == []
            receiver.release.set()
            await eventually(lambda: len(receiver.ok("/hook")) == 5)
    assert sorted(r.headers["x-waiaas-event-id"] for r in receiver.ok("/hook")) == sorted(ids)


async def test_a_receiver_slower_than_the_timeout_is_a_timeout_and_retried(path):
    clock = FakeClock()
    async with receiving() as receiver, Database.open(path) as db:
        receiver.hang_paths.add("/hook")
        notifier = Notifier(
            db,
            Settings(webhook_url=f"{receiver.url}/hook"),
            clock=clock,
            sleep=clock.sleep,
            timeout=0.2,
        )
        async with notifier.running():
            await enqueue(db, notifier, at=clock())
            found = await eventually(lambda: _attempted(db))
    assert found["last_error"].endswith("Timeout") and found["status"] == "pending"


async def _attempted(db):
    found = await rows(db)
    return found[0] if found and found[0]["attempts"] >= 1 else None


async def test_a_worker_restarted_mid_way_loses_no_event(path):
    clock = FakeClock()
    async with receiving() as receiver:
        receiver.hang_paths.add("/hook")
        settings = Settings(webhook_url=f"{receiver.url}/hook", ntfy_url=f"{receiver.url}/topic")
        async with Database.open(path) as db:
            notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep, concurrency=3)
            async with notifier.running():
                ids = [await enqueue(db, notifier, at=clock()) for _ in range(6)]
                await eventually(lambda: sum(receiver.counts.values()) >= 3)
            # The worker stopped with deliveries in flight and others never tried.
            pending = [r for r in await rows(db) if r["status"] == "pending"]
            assert len(pending) >= 9
            async with db.transaction() as conn:  # written while no worker runs
                late = await outbox.enqueue(
                    conn, "test", None, {}, at=clock(), channels=("webhook", "ntfy")
                )
        receiver.hang_paths.clear()
        receiver.release.set()
        async with Database.open(path) as db:
            notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep)
            async with notifier.running():
                finished = await eventually(lambda: all_finished(db))
    assert [r["status"] for r in finished] == ["delivered"] * 14
    hooked = {r.headers["x-waiaas-event-id"] for r in receiver.ok("/hook")}
    assert hooked == {*ids, late}  # at least once each: a cut delivery may come twice
    assert len(receiver.ok("/topic")) >= 7


async def test_a_channel_that_never_answers_is_dead_after_24_hours(path):
    clock = FakeClock()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    async with Database.open(path) as db:
        notifier = Notifier(
            db,
            Settings(webhook_url=f"http://127.0.0.1:{port}/hook"),
            clock=clock,
            sleep=clock.sleep,
        )
        async with notifier.running():
            await enqueue(db, notifier, at=clock())
            (row,) = await eventually(lambda: all_finished(db), timeout=30)
    assert row["status"] == "dead" and row["last_error"] == "ConnectError"
    assert row["updated_at"] - row["created_at"] >= 86400
    assert row["attempts"] == _attempts_until_dead()
    assert max(clock.slept) == 600.0


def _attempts_until_dead() -> int:
    now, attempts = 0.0, 0
    while True:
        attempts += 1
        status, now = outbox.after_failure(attempts, 0.0, now)
        if status == "dead":
            return attempts


def test_backoff_doubles_from_one_second_to_ten_minutes():
    assert [outbox.retry_delay(n) for n in range(1, 13)] == [
        1,
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        256,
        512,
        600,
        600,
    ]
    assert outbox.retry_delay(3, retry_after=90) == 90
    assert outbox.retry_delay(3, retry_after=10**6) == 600
    assert outbox.after_failure(5, 0, 86399.0) == ("pending", 86399.0 + 16)
    assert outbox.after_failure(5, 0, 86400.0) == ("dead", 86400.0)


async def test_the_events_filter_and_unconfigured_channels_write_nothing(path):
    async with Database.open(path) as db:
        silent = Notifier(db, Settings())
        assert await enqueue(db, silent, at=1) is None
        settings = Settings(ntfy_url="http://127.0.0.1:9/t", events=("approval_required",))
        picky = Notifier(db, settings)
        assert await enqueue(db, picky, "tx_denied", at=1) is None
        assert await enqueue(db, picky, "approval_required", {"transactionId": "t"}, at=1)
        assert await enqueue(db, picky, "test", {}, at=1)  # asked for by the owner
        assert [(r["channel"], r["status"]) for r in await rows(db)] == [("ntfy", "pending")] * 2


async def test_an_enqueue_rolled_back_with_its_cause_sends_nothing(path):
    async with receiving() as receiver, Database.open(path) as db:
        notifier = Notifier(db, Settings(webhook_url=f"{receiver.url}/hook"))
        async with notifier.running():
            with pytest.raises(RuntimeError):
                async with db.transaction() as conn:
                    await notifier.enqueue(conn, "tx_denied", WALLET, {}, at=1)
                    raise RuntimeError("the cause failed")
            await enqueue(db, notifier, "test", {}, at=2)
            await eventually(lambda: receiver.ok("/hook"))
            await anyio.sleep(0.05)
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["test"]


async def test_unknown_events_and_secrets_in_data_are_refused(path):
    async with Database.open(path) as db:
        notifier = Notifier(db, Settings(ntfy_url="http://127.0.0.1:9/t"))
        with pytest.raises(ValueError, match="unknown notification event"):
            await enqueue(db, notifier, "tx_exploded", at=1)
        with pytest.raises(SecretInAudit):
            await enqueue(db, notifier, "session_created", {"token": "wai_sess_x"}, at=1)
        assert await rows(db) == []


async def test_deliveries_are_listed_with_status_and_attempts_and_no_secret(path, caplog):
    caplog.set_level(logging.DEBUG)
    clock = FakeClock()
    async with receiving() as receiver, Database.open(path) as db:
        receiver.status_for = lambda p, h, n: 500 if p.startswith("/bot") and n == 1 else 200
        settings = Settings(
            webhook_url=f"{receiver.url}/hook?token=URLSECRET",
            webhook_secret=SECRET,
            telegram_bot_token=BOT_TOKEN,
            telegram_chat_id="42",
            telegram_api_url=receiver.url,
        )
        notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep)
        async with notifier.running():
            event_id = await enqueue(db, notifier, "test", {}, at=clock())
            await eventually(lambda: all_finished(db))
        listed = await list_deliveries(db._reader, limit=10)
    assert [(d["channel"], d["status"], d["attempts"]) for d in listed] == [
        ("telegram", "delivered", 2),
        ("webhook", "delivered", 1),
    ]
    assert listed[0]["eventId"] == event_id and listed[0]["type"] == "test"
    assert listed[0]["lastError"] is None and listed[0]["nextAttemptAt"] is None
    shown = json.dumps([listed, settings_view(settings)]) + caplog.text + repr(settings)
    assert "telegram" in caplog.text  # the failure was logged ...
    for secret in (SECRET, BOT_TOKEN, "URLSECRET"):  # ... without a secret
        assert secret not in shown
    assert settings_view(settings)["webhookUrl"] == f"{receiver.url}/***"
    assert settings_view(settings)["telegramBotTokenSet"] is True
