"""Issue 19 in-process: the bot against a fake Telegram Bot API on loopback (real wire format),
the real app and SQLite, a fake clock. Decisions go through pending.approve/reject."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from tests.daemon.conftest import MASTER
from tests.daemon.fake_telegram import (
    OWNER,
    STRANGER,
    TOKEN,
    FakeTelegram,
    Limited,
    Sent,
    fake_telegram,
)
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy
from waiaas_core.config import Settings
from waiaas_daemon.domain.scheduler import Scheduler
from waiaas_daemon.domain.telegram import Poller, Prompts, running_bot, telegram_linked
from waiaas_daemon.storage import telegram as store

pytestmark = pytest.mark.anyio

ACTOR = f"owner:telegram:{OWNER}"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram() as fake:
        yield fake


@pytest.fixture
def settings(telegram: FakeTelegram) -> Settings:
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        telegram_bot_token=TOKEN,
        telegram_chat_id=str(OWNER),
        telegram_api_url=telegram.url,
    )


class Sleeps:
    """The poller's backoff: recorded, and short in real time so a test never waits;
    with a ``clock``, the fake time moves on by what the poller waited."""

    def __init__(self, clock: Any = None) -> None:
        self.delays: list[float] = []
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self._clock is not None:
            self._clock.advance(seconds)
        await anyio.sleep(0.01)


@asynccontextmanager
async def running(harness: Any, sleeps: Sleeps | None = None) -> AsyncIterator[Poller]:
    """The bot and the notifier, as the daemon's lifespan runs them."""
    state = harness.state
    state.notifier.prompts = Prompts(state)
    state.notifier.telegram_linked = await telegram_linked(state)
    async with (
        running_bot(state, poll_timeout=2, sleep=sleeps or Sleeps()) as poller,
        state.notifier.running(),
    ):
        assert poller is not None
        yield poller


async def link(harness: Any, telegram: FakeTelegram, chat_id: int = OWNER) -> None:
    response = await harness.http.post("/v1/telegram/link", headers=MASTER)
    assert response.status_code == 201, response.text
    telegram.message(response.json()["send"], chat_id)
    await telegram.wait_for(lambda: any("Linked" in s.text for s in telegram.to(chat_id)))


async def audit(harness: Any, action: str) -> list[dict[str, Any]]:
    response = await harness.http.get(f"/v1/audit?action={action}&limit=100", headers=MASTER)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def tx_status(harness: Any, tx_id: str) -> str:
    row = await harness.state.db.get_transaction(tx_id)
    return row.status


async def waiting_send(
    harness: Any, telegram: FakeTelegram, amount: int = 2 * SOL, **policy: Any
) -> tuple[str, Sent]:
    """An APPROVAL-tier send, and the message with buttons the owner chat got for it."""
    wallet, headers, _ = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], instantMax=str(SOL), **policy)
    response = await send(harness, headers, bob, amount)
    assert response.status_code == 202, response.text
    tx_id = response.json()["id"]
    prompt = await telegram.wait_for(
        lambda: next((s for s in telegram.to() if tx_id in s.text and s.reply_markup), None)
    )
    return tx_id, prompt


async def until(check: Any) -> None:
    """For state the fake does not see (the daemon's own counters)."""
    with anyio.fail_after(10):
        while not check():
            await anyio.sleep(0.01)


async def answered(telegram: FakeTelegram, callback_id: str) -> dict[str, Any]:
    return await telegram.wait_for(lambda: telegram.answer_to(callback_id))


# -- linking ----------------------------------------------------------------------


async def test_the_link_code_binds_the_private_chat_that_sends_it_once(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        status = (await harness.http.get("/v1/telegram", headers=MASTER)).json()
        assert status["ownerChat"]["chatId"] == str(OWNER)
        assert status["running"] is True and status["linkPendingUntil"] is None
        [entry] = await audit(harness, "telegram.link")
        assert entry["actor"] == ACTOR
        first = next(p for m, p in telegram.calls if m == "sendMessage" and "Linked" in p["text"])
        assert first["chat_id"] == str(OWNER)


async def test_a_spent_expired_or_group_code_links_nothing(harness, telegram):
    async with running(harness):
        response = await harness.http.post("/v1/telegram/link", headers=MASTER)
        send_text = response.json()["send"]
        group = telegram.message(send_text, STRANGER, chat_type="group")
        await telegram.wait_for(lambda: telegram.confirmed > group)
        assert await store.owner_chat(harness.state.db) is None
        harness.clock.advance(601)
        telegram.message(send_text, STRANGER)
        await telegram.wait_for(lambda: telegram.to(STRANGER))
        assert "unknown or expired" in telegram.to(STRANGER)[0].text
        assert await store.owner_chat(harness.state.db) is None
        # A fresh code links the owner; sent again by someone else, it is spent.
        response = await harness.http.post("/v1/telegram/link", headers=MASTER)
        telegram.message(response.json()["send"])
        await telegram.wait_for(lambda: any("Linked" in s.text for s in telegram.to()))
        telegram.message(response.json()["send"], STRANGER)
        await telegram.wait_for(lambda: len(telegram.to(STRANGER)) == 2)
        assert "unknown or expired" in telegram.to(STRANGER)[1].text
        owner = await store.owner_chat(harness.state.db)
        assert owner is not None and owner.chat_id == str(OWNER)
        assert len(await audit(harness, "telegram.link")) == 1


async def test_link_without_a_bot_token_is_a_clear_409(harness):
    harness.configure(telegram_bot_token="", telegram_chat_id="")
    response = await harness.http.post("/v1/telegram/link", headers=MASTER)
    assert response.status_code == 409
    assert response.json()["code"] == "TELEGRAM_NOT_CONFIGURED"
    assert (await harness.http.post("/v1/telegram/link")).status_code == 401


async def test_a_bot_token_alone_is_enough_once_a_chat_is_linked(harness, telegram):
    harness.configure(telegram_chat_id="")
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)  # arrives in the linked chat
        assert set(prompt.buttons()) == {"Approve", "Reject"}
        # Other events go there too (the session the test made is one).
        assert any("session" in s.text and not s.reply_markup for s in telegram.to())
        response = await harness.http.delete("/v1/telegram/link", headers=MASTER)
        assert response.json()["ownerChat"] is None
        [entry] = await audit(harness, "telegram.unlink")
        assert entry["actor"] == "owner"
        answer = await answered(telegram, telegram.tap(prompt, "Approve"))
        assert answer["text"] == "Not allowed."  # no owner chat any more
        assert await tx_status(harness, tx_id) == "PENDING_APPROVAL"


# -- decisions by button ---------------------------------------------------------------


async def test_approve_by_button_confirms_edits_the_message_and_answers(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        assert set(prompt.buttons()) == {"Approve", "Reject"}
        assert all(len(d.encode()) <= 64 for d in prompt.buttons().values())
        callback = telegram.tap(prompt, "Approve")
        answer = await answered(telegram, callback)
        assert answer["text"] == "Approved: CONFIRMED"
        assert await tx_status(harness, tx_id) == "CONFIRMED"
        assert prompt.edits and "Approved by " + ACTOR in prompt.edits[-1]
        assert prompt.reply_markup is None  # the buttons are gone
        [entry] = await audit(harness, "pending.approve")
        assert (entry["actor"], entry["transactionId"]) == (ACTOR, tx_id)


async def test_reject_by_button_rejects(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        answer = await answered(telegram, telegram.tap(prompt, "Reject"))
        assert answer["text"] == "Rejected: REJECTED"
        assert await tx_status(harness, tx_id) == "REJECTED"
        [entry] = await audit(harness, "pending.reject")
        assert entry["actor"] == ACTOR
        assert entry["details"]["reason"] == "rejected from Telegram"


async def test_a_button_from_another_chat_decides_nothing_and_is_audited(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        answer = await answered(telegram, telegram.tap(prompt, "Approve", chat_id=STRANGER))
        assert answer["text"] == "Not allowed."
        assert await tx_status(harness, tx_id) == "PENDING_APPROVAL"
        [entry] = await audit(harness, "telegram.foreign")
        assert entry["actor"] == f"telegram:{STRANGER}"
        assert await store.ignored(harness.state.db) >= 1


async def test_a_replayed_button_does_nothing_the_second_time(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        _tx_id, prompt = await waiting_send(harness, telegram)
        data = prompt.buttons()["Approve"]
        await answered(telegram, telegram.tap(prompt, "Approve"))
        again = await answered(telegram, telegram.tap(prompt, "Approve", data=data))
        assert again["text"] == "Already decided: CONFIRMED"
        assert len(await audit(harness, "pending.approve")) == 1
        assert len(await audit(harness, "send.confirmed")) == 1


async def test_forged_buttons_decide_nothing_and_are_audited(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        _kind, _, nonce = prompt.buttons()["Approve"].split(":")
        forged = [
            f"a:{tx_id}:{'A' * 22}",  # a nonce the daemon never made
            f"a:{'0' * 8}-0000-0000-0000-{'0' * 12}:{nonce}",  # the nonce on another send
            "approve everything",
        ]
        for data in forged:
            await answered(telegram, telegram.tap(prompt, "Approve", data=data))
        other = Sent(OWNER, prompt.message_id + 1000, prompt.text, prompt.reply_markup)
        telegram.sent.append(other)  # the right nonce under another message
        await answered(telegram, telegram.tap(other, "Approve"))
        assert await tx_status(harness, tx_id) == "PENDING_APPROVAL"
        assert len(await audit(harness, "telegram.refused")) == 3


async def test_a_button_on_an_expired_send_says_so(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        _tx_id, prompt = await waiting_send(harness, telegram, approvalTimeout=60)
        harness.clock.advance(61)
        assert await Scheduler(harness.state).run_due() == 1
        answer = await answered(telegram, telegram.tap(prompt, "Approve"))
        assert answer["text"] == "Already decided: EXPIRED"
        assert "Already decided: EXPIRED" in prompt.edits[-1]
        assert await audit(harness, "pending.approve") == []


async def test_a_tap_racing_the_console_gives_one_outcome(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        answers: list[int] = []

        async def console() -> None:
            path = f"/v1/pending/{tx_id}/reject"
            response = await harness.http.post(path, headers=MASTER, json={})
            answers.append(response.status_code)

        async with anyio.create_task_group() as group:
            callback = telegram.tap(prompt, "Approve")
            group.start_soon(console)
        answer = await answered(telegram, callback)
        approved = await audit(harness, "pending.approve")
        rejected = await audit(harness, "pending.reject")
        assert len(approved) + len(rejected) == 1
        status = await tx_status(harness, tx_id)
        if approved:
            assert (answers, status, answer["text"]) == ([409], "CONFIRMED", "Approved: CONFIRMED")
        else:
            assert (answers, status) == ([200], "REJECTED")
            assert answer["text"] == "Already decided: REJECTED"


async def test_above_the_chat_limit_there_is_no_approve_button_and_a_forged_one_fails(
    harness, telegram
):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram, chatApprovalMax=str(SOL))
        assert set(prompt.buttons()) == {"Reject"}
        assert f"waiaas approve {tx_id}" in prompt.text and "chat approval limit" in prompt.text
        data = prompt.buttons()["Reject"].replace("r:", "a:", 1)
        answer = await answered(telegram, telegram.tap(prompt, "Approve", data=data))
        assert answer["show_alert"] is True and "console" in answer["text"]
        assert await tx_status(harness, tx_id) == "PENDING_APPROVAL"
        [entry] = await audit(harness, "telegram.refused")
        assert "chat approval limit" in entry["details"]["why"]
        await answered(telegram, telegram.tap(prompt, "Reject"))
        assert await tx_status(harness, tx_id) == "REJECTED"


async def test_a_send_decided_in_the_console_loses_its_buttons_in_the_chat(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        response = await harness.http.post(f"/v1/pending/{tx_id}/approve", headers=MASTER)
        assert response.status_code == 200, response.text
        telegram.message("hello", STRANGER)  # any update ends the long poll at once
        await telegram.wait_for(lambda: prompt.edits)
        assert prompt.reply_markup is None
        assert "Decided elsewhere (console, CLI or expiry): CONFIRMED" in prompt.edits[-1]
        [entry] = await audit(harness, "pending.approve")
        assert entry["actor"] == "owner"


# -- commands and strangers ----------------------------------------------------------


async def test_owner_commands_status_pending_and_kill_switch_on_but_never_off(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, _ = await waiting_send(harness, telegram)
        before = len(telegram.to())
        telegram.message("/status")
        status = await telegram.wait_for(lambda: telegram.to()[before:])
        assert "Kill switch: off" in status[0].text and "Waiting for you: 1" in status[0].text
        telegram.message("/pending")
        listed = await telegram.wait_for(lambda: telegram.to()[before + 1 :])
        assert tx_id in listed[0].text and set(listed[0].buttons()) == {"Approve", "Reject"}
        telegram.message("/killswitch on agent looks odd")
        await telegram.wait_for(lambda: any("Kill switch ON" in s.text for s in telegram.to()))
        switch = await harness.state.db.get_kill_switch()
        assert (switch.active, switch.reason) == (True, "agent looks odd")
        [entry] = await audit(harness, "kill_switch.on")
        assert entry["actor"] == ACTOR
        telegram.message("/killswitch off")
        await telegram.wait_for(lambda: any("never turned off" in s.text for s in telegram.to()))
        assert (await harness.state.db.get_kill_switch()).active is True
        # An approval while the switch is on is refused; the send still waits, buttons stay.
        answer = await answered(telegram, telegram.tap(listed[0], "Approve"))
        assert answer["show_alert"] is True
        assert await tx_status(harness, tx_id) == "PENDING_APPROVAL"


async def test_strangers_are_ignored_and_counted(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        for text in ("/status", "/killswitch on", "hello"):
            telegram.message(text, STRANGER)
        last = telegram.message("/status", STRANGER, chat_type="group")
        await telegram.wait_for(lambda: telegram.confirmed > last)
        assert telegram.to(STRANGER) == []
        assert not (await harness.state.db.get_kill_switch()).active
        status = (await harness.http.get("/v1/telegram", headers=MASTER)).json()
        assert status["ignored"] == 4


# -- resilience ------------------------------------------------------------------------


async def test_telegram_down_is_backed_off_then_the_bot_goes_on(harness, telegram):
    sleeps = Sleeps()
    telegram.down = True
    async with running(harness, sleeps):
        await until(lambda: len(sleeps.delays) >= 4)
        assert sleeps.delays[:4] == [1.0, 2.0, 4.0, 8.0]
        status = (await harness.http.get("/v1/telegram", headers=MASTER)).json()
        assert status["running"] is True and "HTTP 502" in status["lastError"]
        assert TOKEN not in str(status)
        telegram.down = False
        await link(harness, telegram)


async def test_updates_sent_while_stopped_are_handled_once_after_a_restart(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        _tx_id, prompt = await waiting_send(harness, telegram)
    # The daemon is down: the owner taps twice, Telegram keeps the updates.
    first = telegram.tap(prompt, "Approve")
    second = telegram.tap(prompt, "Approve")
    async with running(harness) as poller:
        await answered(telegram, second)
        await until(lambda: poller.status.handled == 2)
    assert telegram.answer_to(first)["text"] == "Approved: CONFIRMED"
    assert telegram.answer_to(second)["text"] == "Already decided: CONFIRMED"
    assert len(await audit(harness, "pending.approve")) == 1
    offset = await store.offset(harness.state.db)
    assert offset == telegram.last_id + 1
    # Started again: nothing is handled twice.
    async with running(harness) as poller:
        await telegram.wait_for(lambda: telegram.polls and telegram.confirmed == offset)
        assert poller.status.handled == 0


async def test_a_reply_lost_mid_decision_is_made_again_and_the_send_decided_once(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
    down_for_edit = FailingEdit(telegram)
    async with running(harness):
        callback = telegram.tap(prompt, "Approve")
        await telegram.wait_for(lambda: down_for_edit.failed >= 1)
        assert await tx_status(harness, tx_id) == "CONFIRMED"
        down_for_edit.stop()
        answer = await answered(telegram, callback)
        assert answer["text"] == "Already decided: CONFIRMED"
        assert "Already decided: CONFIRMED" in prompt.edits[-1]
    assert len(await audit(harness, "pending.approve")) == 1


class FailingEdit:
    """editMessageText answers 502 (Telegram down just then) until ``stop``."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.failed = 0
        self._telegram = telegram
        self._real = telegram._editMessageText
        telegram._editMessageText = self._edit  # type: ignore[method-assign]

    def _edit(self, params: dict[str, Any]) -> Any:
        from starlette.responses import JSONResponse

        self.failed += 1
        return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)

    def stop(self) -> None:
        self._telegram._editMessageText = self._real  # type: ignore[method-assign]


async def test_the_bot_token_is_never_logged(harness, telegram, caplog):
    caplog.set_level(logging.DEBUG)
    telegram.down = True
    async with running(harness):
        await until(lambda: any("502" in r.getMessage() for r in caplog.records))
        telegram.down = False
        await link(harness, telegram)
        await waiting_send(harness, telegram)
    assert any("/bot" in r.getMessage() or "getUpdates" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text


async def test_chat_approval_max_is_validated_and_the_console_form_keeps_it(harness):
    from waiaas_daemon.serving.console import policyform

    wallet = await harness.wallet()
    path = f"/v1/wallets/{wallet['id']}/policy"
    bad = await harness.http.put(path, json={"chatApprovalMax": "-1"}, headers=MASTER)
    assert bad.status_code == 400 and "chatApprovalMax" in bad.json()["message"]
    good = await harness.http.put(path, json={"chatApprovalMax": str(SOL)}, headers=MASTER)
    assert good.json()["policy"] == {"chatApprovalMax": str(SOL)}
    document, errors = policyform.document_of({"instantMax": "0.1"}, good.json()["policy"])
    assert errors == {} and document["chatApprovalMax"] == str(SOL)


async def test_an_update_that_keeps_failing_on_our_side_is_skipped_after_three_tries(
    harness, telegram, monkeypatch
):
    async with running(harness) as poller:
        await link(harness, telegram)
        real = poller.bot.handle
        tries: list[int] = []

        async def broken(update: dict[str, Any]) -> None:
            if "bad" in str(update):
                tries.append(update["update_id"])
                raise RuntimeError("a bug")
            await real(update)

        monkeypatch.setattr(poller.bot, "handle", broken)
        telegram.message("bad")
        telegram.message("/status")
        await telegram.wait_for(lambda: any("Kill switch" in s.text for s in telegram.to()))
        assert len(tries) == 3


# -- the poller's role (several daemons: docs/notes/postgres.md) ---------------------


async def test_a_database_that_refuses_the_pollers_role_is_backed_off_not_fatal(harness, telegram):
    """Taking the role fails twice (the database unreachable): backoff, then it polls."""
    state = harness.state
    real = state.db.exclusive
    refusals = [OSError("database unreachable"), OSError("database unreachable")]

    def exclusive(role: str) -> Any:
        if refusals:
            raise refusals.pop()
        return real(role)

    state.db.exclusive = exclusive
    sleeps = Sleeps()
    async with running(harness, sleeps) as poller:
        await until(lambda: poller.status.polling)
        assert sleeps.delays[:2] == [1.0, 2.0] and poller.status.running
        await link(harness, telegram)  # updates are handled: it polls


# -- strangers and Telegram's flood control (issue 29) ----------------------------------


async def test_forty_strangers_never_stand_between_the_owner_and_a_decision(harness, telegram):
    """40 wrong link codes from 4 chats, then the owner's Approve, all in one batch, with
    Telegram's flood control on (one message a second per chat, fake clock): the owner's
    tap is decided at once, with no wait at all; the strangers get best-effort replies."""
    sleeps = Sleeps(harness.clock)
    async with running(harness, sleeps):
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        telegram.clock = harness.clock
        telegram.per_chat_interval = 1.0
        strangers = [STRANGER + n for n in range(4)]
        await until(lambda: telegram.polling == 1)
        for n in range(40):
            telegram.message(f"/start WRONGCODE{n:02d}", strangers[n % 4], user="guesser")
        callback = telegram.tap(prompt, "Approve")
        answer = await answered(telegram, callback)
        assert answer["text"] == "Approved: CONFIRMED"
        assert await tx_status(harness, tx_id) == "CONFIRMED"
        assert sleeps.delays == []  # decided without waiting for anything
        await telegram.wait_for(lambda: telegram.confirmed > callback_update(telegram))
        # The owner's tap was handled ahead of the 40 updates that came before it.
        order = [
            ("owner" if p.get("callback_query_id") == callback else int(p.get("chat_id", 0)))
            for m, p in telegram.calls
            if m in ("sendMessage", "answerCallbackQuery")
        ]
        assert order.index("owner") < min(order.index(chat) for chat in strangers)
        for chat in strangers:
            # One reply got through per chat; the rest were rate limited and dropped.
            assert len(telegram.to(chat)) == 1
        status = (await harness.http.get("/v1/telegram", headers=MASTER)).json()
        assert status["ignored"] == 40 and status["lastError"] is None
        assert sleeps.delays == []


def callback_update(telegram: FakeTelegram) -> int:
    return telegram.last_id


async def test_link_code_guesses_are_limited_per_chat(harness, telegram):
    async with running(harness):
        for n in range(5):
            telegram.message(f"/start WRONGCODE{n}", STRANGER)
        await telegram.wait_for(lambda: len(telegram.to(STRANGER)) == 5)
        assert "Too many wrong codes" in telegram.to(STRANGER)[-1].text
        response = await harness.http.post("/v1/telegram/link", headers=MASTER)
        code = response.json()["send"]
        blocked = telegram.message(code, STRANGER)  # even the right code: not looked at
        await telegram.wait_for(lambda: telegram.confirmed > blocked)
        assert await store.owner_chat(harness.state.db) is None
        assert len(telegram.to(STRANGER)) == 5  # and not answered
        harness.clock.advance(3601)  # the hour has passed: the chat may try again
        response = await harness.http.post("/v1/telegram/link", headers=MASTER)
        telegram.message(response.json()["send"], STRANGER)
        await telegram.wait_for(lambda: any("Linked" in s.text for s in telegram.to(STRANGER)))
        owner = await store.owner_chat(harness.state.db)
        assert owner is not None and owner.chat_id == str(STRANGER)


async def test_telegram_429_and_5xx_are_waited_out_and_nothing_is_lost_or_done_twice(
    harness, telegram
):
    """Standing fault test: a 429 waits exactly its retry_after, a 5xx backs off, the
    backoff starts again after a poll that went well, and every update is handled once."""
    sleeps = Sleeps(harness.clock)
    async with running(harness, sleeps) as poller:
        await link(harness, telegram)
        tx_id, prompt = await waiting_send(harness, telegram)
        await until(lambda: telegram.polling == 1)
        telegram.fail("editMessageText", Limited(5))  # the reply to the owner's tap
        telegram.fail("getUpdates", Limited(7), 502)
        callback = telegram.tap(prompt, "Approve")
        answer = await answered(telegram, callback)
        assert sleeps.delays == [5.0, 7.0, 4.0]  # retry_after twice, then the backoff (3rd)
        assert answer["text"] == "Already decided: CONFIRMED"  # handled again: decided once
        assert "Already decided: CONFIRMED" in prompt.edits[-1]
        await until(lambda: poller.status.failures == 0)
        await until(lambda: telegram.polling == 1)
        telegram.fail("getUpdates", 502)
        telegram.message("/status")
        await telegram.wait_for(lambda: any("Kill switch" in s.text for s in telegram.to()))
        await until(lambda: len(sleeps.delays) == 4)
        assert sleeps.delays[3] == 1.0  # the backoff started again after the success
        telegram.message("/status")
        await telegram.wait_for(
            lambda: len([s for s in telegram.to() if "Kill switch" in s.text]) == 2
        )
        await telegram.wait_for(lambda: telegram.confirmed > telegram.last_id)
    assert len(await audit(harness, "pending.approve")) == 1
    assert len(await audit(harness, "send.confirmed")) == 1
    assert await tx_status(harness, tx_id) == "CONFIRMED"
    assert await store.offset(harness.state.db) == telegram.last_id + 1


async def test_the_owner_chat_lists_sessions_and_revokes_one_by_its_id_prefix(harness, telegram):
    async with running(harness):
        await link(harness, telegram)
        wallet = await harness.wallet("chat")
        session = await harness.session(wallet["id"], label="oauth:Hosted Agent")
        before = len(telegram.to())
        telegram.message("/sessions")
        # The session's own notification may arrive first: wait for the listing.
        listed = await telegram.wait_for(
            lambda: [m for m in telegram.to()[before:] if "on chat" in m.text]
        )
        assert "oauth:Hosted Agent on chat" in listed[0].text and session["id"] in listed[0].text
        telegram.message("/revoke 0000")
        await telegram.wait_for(lambda: any("Use: /revoke" in s.text for s in telegram.to()))
        telegram.message(f"/revoke {session['id'][:8]}")
        await telegram.wait_for(
            lambda: any("Revoked oauth:Hosted Agent" in s.text for s in telegram.to())
        )
        assert (await harness.as_agent(session["token"])).json()["code"] == "SESSION_REVOKED"
        [entry] = await audit(harness, "session.revoke")
        assert entry["actor"] == ACTOR and entry["sessionId"] == session["id"]
