"""A fake Telegram Bot API on loopback, speaking the real wire format, for the bot's tests.

``POST /bot<token>/<method>`` with a JSON body answers ``{"ok": true, "result":
...}`` or ``{"ok": false, "error_code", "description"}`` as Telegram does.
getUpdates honours ``offset`` (updates below it are confirmed and forgotten)
and ``timeout`` (a long poll: held until an update arrives or the time
passes); sendMessage, editMessageText and answerCallbackQuery keep what the
bot did, so a test reads the chat as the owner would see it. Tests inject
owner messages and button taps with ``message`` and ``tap``.

Telegram's flood control, when a test turns it on (``per_chat_interval``): a
second message or edit to one chat within that many seconds of the last, on
the fake's ``clock``, answers 429 with ``parameters.retry_after``, as Telegram
does ("Too Many Requests: retry after N"). ``fail(method, ...)`` scripts the
next answers of a method: ``Limited(retry_after)`` (429) or an HTTP status.
"""

from __future__ import annotations

import itertools
import math
import socket
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "123456:AAFakeBotTokenForTestsOnly_abcdefghij"
OWNER = 424242
STRANGER = 999001


@dataclass(frozen=True)
class Limited:
    """A 429 with ``parameters.retry_after``: Telegram's flood control."""

    retry_after: int


Fault = Limited | int  # an int: that HTTP status with Telegram's error body


@dataclass
class Sent:
    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None
    edits: list[str] = field(default_factory=list)

    def buttons(self) -> dict[str, str]:
        """Button text -> callback data, as the keyboard shows them now."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return {b["text"]: b["callback_data"] for row in rows for b in row}


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.url = ""
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0  # the highest offset a getUpdates confirmed
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[Sent] = []
        self.answers: list[dict[str, Any]] = []
        self.down = False  # answer 502 to everything, as a Telegram outage looks
        self.polls = 0
        # getUpdates in flight now, and those that came while another was (Telegram: 409).
        self.polling = 0
        self.conflicts = 0
        self._poller: Request | None = None
        self._poll_ended = anyio.Event()
        self.last_id = 0
        self._ids = itertools.count(1)
        self._message_ids = itertools.count(100)
        self._callback_ids = itertools.count(1)
        self._arrived = anyio.Event()
        self.changed = anyio.Event()
        # Flood control (off unless a test sets the interval) and scripted faults.
        self.clock: Callable[[], float] = time.monotonic
        self.per_chat_interval: float | None = None
        self.limited: list[tuple[str, int]] = []  # (method, chat) answered 429
        self._last_to: dict[int, float] = {}
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)

    def fail(self, method: str, *faults: Fault) -> None:
        """The next calls of ``method`` meet these faults, in order."""
        self._faults[method].extend(faults)

    # -- what tests inject -------------------------------------------------------

    def inject(self, body: dict[str, Any]) -> int:
        update_id = self.last_id = next(self._ids)
        self.updates.append({"update_id": update_id, **body})
        self._arrived.set()
        self._arrived = anyio.Event()
        return update_id

    def message(
        self, text: str, chat_id: int = OWNER, *, chat_type: str = "private", user: str = "owner"
    ) -> int:
        chat = {"id": chat_id, "type": chat_type}
        sender = {"id": chat_id if chat_type == "private" else 7, "is_bot": False}
        sender.update(first_name=user, username=user)
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": sender,
            "text": text,
        }
        return self.inject({"message": message})

    def tap(self, sent: Sent, button: str, *, chat_id: int | None = None, data: str | None = None):
        """The owner (or ``chat_id``) taps ``button`` under ``sent``; returns the callback id."""
        callback_id = f"cb{next(self._callback_ids)}"
        chat = chat_id if chat_id is not None else sent.chat_id
        callback = {
            "id": callback_id,
            "from": {"id": chat, "is_bot": False, "first_name": "someone"},
            "chat_instance": "1",
            "message": {
                "message_id": sent.message_id,
                "date": int(time.time()),
                "chat": {"id": chat, "type": "private"},
                "text": sent.edits[-1] if sent.edits else sent.text,
            },
            "data": data if data is not None else sent.buttons()[button],
        }
        self.inject({"callback_query": callback})
        return callback_id

    # -- what tests read ----------------------------------------------------------

    def to(self, chat_id: int = OWNER) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def answer_to(self, callback_id: str) -> dict[str, Any] | None:
        return next((a for a in self.answers if a["callback_query_id"] == callback_id), None)

    async def wait_for(self, check: Any, timeout: float = 10) -> Any:
        """Until ``check()`` is truthy; woken by every call the bot makes."""
        with anyio.fail_after(timeout):
            while not (result := check()):
                await self.changed.wait()
        return result

    # -- the Bot API ---------------------------------------------------------------

    async def handle(self, request: Request) -> JSONResponse:
        token, method = request.path_params["token"], request.path_params["method"]
        if self.down:
            return JSONResponse({"ok": False, "error_code": 502, "description": "Bad Gateway"}, 502)
        if token != self.token:
            return _error(401, "Unauthorized")
        params = await request.json()
        self.calls.append((method, params))
        try:
            fault = self._faults[method].popleft() if self._faults[method] else None
            if isinstance(fault, Limited):
                return _too_many(fault.retry_after)
            if fault is not None:
                return _error(fault, "Bad Gateway" if fault == 502 else "Internal Server Error")
            wait = self._flood_wait(method, params)
            if wait is not None:
                self.limited.append((method, int(params["chat_id"])))
                return _too_many(wait)
            if method == "getUpdates":
                return await self._get_updates(params, request)
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                return _error(404, "Not Found")
            return handler(params)
        finally:
            self.changed.set()
            self.changed = anyio.Event()

    def _flood_wait(self, method: str, params: dict[str, Any]) -> int | None:
        """Seconds a message to this chat must wait (Telegram: about one a second per chat)."""
        if self.per_chat_interval is None or method not in ("sendMessage", "editMessageText"):
            return None
        chat, now = int(params["chat_id"]), self.clock()
        last = self._last_to.get(chat)
        if last is not None and now - last < self.per_chat_interval:
            return max(1, math.ceil(self.per_chat_interval - (now - last)))
        self._last_to[chat] = now
        return None

    async def _get_updates(self, params: dict[str, Any], request: Request) -> JSONResponse:
        self.polls += 1
        if self.polling and self._poller is not None and await self._poller.is_disconnected():
            # The poll in flight is a dead poller's (SIGKILL closed its connection), which
            # this loop has not looked at yet: Telegram sees the closed connection too.
            await self._poll_ended.wait()
        if self.polling:
            # Telegram allows one getUpdates per token at a time (two bot instances).
            self.conflicts += 1
            return _error(409, "Conflict: terminated by other getUpdates request")
        offset = int(params.get("offset", 0))
        if offset > self.confirmed:
            self.confirmed = offset
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        self.polling += 1
        self._poller, self._poll_ended = request, anyio.Event()
        try:
            with anyio.move_on_after(float(params.get("timeout", 0))):
                while not self._pending(offset):
                    # A poller that died (SIGKILL) closed its connection: its poll ends.
                    with anyio.move_on_after(0.05):
                        await self._arrived.wait()
                    if await request.is_disconnected():
                        return _ok([])
            return _ok(self._pending(offset)[:100])
        finally:
            self.polling -= 1
            self._poller = None
            self._poll_ended.set()

    def _pending(self, offset: int) -> list[dict[str, Any]]:
        return [u for u in self.updates if u["update_id"] >= offset]

    def _sendMessage(self, params: dict[str, Any]) -> JSONResponse:
        if not str(params.get("text", "")).strip():
            return _error(400, "Bad Request: message text is empty")
        sent = Sent(int(params["chat_id"]), next(self._message_ids), params["text"], None)
        sent.reply_markup = params.get("reply_markup")
        self.sent.append(sent)
        return _ok(self._message(sent))

    def _editMessageText(self, params: dict[str, Any]) -> JSONResponse:
        key = (int(params["chat_id"]), int(params["message_id"]))
        sent = next((s for s in self.sent if (s.chat_id, s.message_id) == key), None)
        if sent is None:
            return _error(400, "Bad Request: message to edit not found")
        current = sent.edits[-1] if sent.edits else sent.text
        markup = params.get("reply_markup")
        if params["text"] == current and markup == sent.reply_markup:
            return _error(400, "Bad Request: message is not modified")
        sent.edits.append(params["text"])
        sent.reply_markup = markup
        return _ok(self._message(sent))

    def _answerCallbackQuery(self, params: dict[str, Any]) -> JSONResponse:
        if any(a["callback_query_id"] == params["callback_query_id"] for a in self.answers):
            return _error(400, "Bad Request: query is too old and response timeout expired")
        self.answers.append(params)
        return _ok(True)

    def _message(self, sent: Sent) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": {"id": sent.chat_id, "type": "private"},
            "from": {"id": 1, "is_bot": True, "first_name": "waiaas", "username": "waiaas_bot"},
            "text": sent.edits[-1] if sent.edits else sent.text,
        }
        if sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        return message


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _too_many(retry_after: int) -> JSONResponse:
    body = {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }
    return JSONResponse(body, status_code=429)


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error_code": code, "description": description}, status_code=code
    )


@asynccontextmanager
async def fake_telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram()
    app = Starlette(routes=[Route("/bot{token}/{method}", fake.handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="critical", ws="none"))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield fake
            finally:
                server.should_exit = True
                tg.cancel_scope.cancel()
    finally:
        sock.close()
