"""The pure half of the bot (telegram/updates.py): what each Bot API update asks for."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from waiaas_daemon.domain.telegram.updates import (
    Command,
    Decide,
    Foreign,
    Ignored,
    Link,
    Stale,
    callback_data,
    chat_of,
    classify,
    keyboard,
    owner_first,
    parse_callback_data,
)

OWNER = "424242"
TX = str(uuid.UUID(int=7))
NONCE = "Abc_def-0123456789xyzQ"


def message(text: str, chat: int = 424242, chat_type: str = "private") -> dict:
    return {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "chat": {"id": chat, "type": chat_type},
            "from": {"id": chat, "username": "ann"},
            "text": text,
        },
    }


def callback(data: str, chat: int = 424242) -> dict:
    return {
        "update_id": 2,
        "callback_query": {
            "id": "cb",
            "from": {"id": chat},
            "message": {"message_id": 9, "chat": {"id": chat, "type": "private"}, "text": "t"},
            "data": data,
        },
    }


def test_a_link_code_is_a_link_from_any_chat_marked_private_or_not():
    assert classify(message("/start ABCDEFGH23"), None) == Link(OWNER, "ABCDEFGH23", "ann", True)
    group = classify(message("/start ABCDEFGH23", 5, "group"), OWNER)
    assert isinstance(group, Link) and not group.private


def test_owner_commands_and_anything_else_from_the_owner_is_help():
    assert classify(message("/killswitch on why not"), OWNER) == Command(
        OWNER, "killswitch", ("on", "why", "not")
    )
    assert classify(message("/status@waiaas_bot"), OWNER) == Command(OWNER, "status", ())
    assert classify(message("hello"), OWNER) == Command(OWNER, "help", ())


def test_messages_from_other_chats_or_before_a_link_are_ignored():
    assert isinstance(classify(message("/status", 5), OWNER), Ignored)
    assert isinstance(classify(message("/status"), None), Ignored)
    assert isinstance(classify({"update_id": 3, "edited_message": {}}, OWNER), Ignored)


def test_buttons_of_the_owner_chat_decide_others_are_foreign_or_stale():
    data = callback_data("approve", TX, NONCE)
    assert classify(callback(data), OWNER) == Decide(OWNER, "cb", 9, "approve", TX, NONCE, "t")
    assert classify(callback(data, 5), OWNER) == Foreign("5", "cb", data)
    assert classify(callback("a:nonsense"), OWNER) == Stale(OWNER, "cb")


def test_the_keyboard_has_no_approve_above_the_limit():
    both = keyboard(TX, NONCE, can_approve=True)["inline_keyboard"][0]
    only = keyboard(TX, NONCE, can_approve=False)["inline_keyboard"][0]
    assert [b["text"] for b in both] == ["Approve", "Reject"]
    assert [b["text"] for b in only] == ["Reject"]


@given(st.uuids(), st.sampled_from(["approve", "reject"]))
def test_callback_data_fits_telegrams_64_bytes_and_round_trips(tx, kind):
    data = callback_data(kind, str(tx), NONCE)
    assert len(data.encode()) <= 64
    assert parse_callback_data(data) == (kind, str(tx), NONCE)


@given(st.text(max_size=80))
def test_no_text_crashes_the_classifier(text):
    for update in (message(text), callback(text)):
        classify(update, OWNER)


def test_owner_first_puts_the_owner_chats_updates_ahead_and_keeps_each_groups_order():
    def message(update_id: int, chat: int) -> dict:
        return {"update_id": update_id, "message": {"chat": {"id": chat}, "text": "x"}}

    def tap(update_id: int, chat: int) -> dict:
        callback = {"id": "c", "message": {"chat": {"id": chat}, "message_id": 1}}
        return {"update_id": update_id, "callback_query": callback}

    batch = [
        message(1, 7),
        message(2, 8),
        tap(3, 42),
        message(4, 7),
        message(5, 42),
        {"update_id": 6},
    ]
    ordered = [u["update_id"] for u in owner_first(batch, "42")]
    assert ordered == [3, 5, 1, 2, 4, 6]
    assert [u["update_id"] for u in owner_first(batch, None)] == [1, 2, 3, 4, 5, 6]
    assert chat_of(batch[2]) == "42" and chat_of(batch[5]) is None
