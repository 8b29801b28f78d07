"""The bot's side effects: what ``updates.classify`` decided, done against the daemon.

Decisions go through ``pending.approve`` / ``pending.reject`` with the actor
``owner:telegram:<chat>``, the very compare-and-swap the console and the CLI
use, so approve, reject, expiry and the kill switch still give one outcome.
A reply to the owner chat that cannot reach Telegram raises
``TelegramUnavailable``: the poller then keeps the update and handles it again
later, which is safe because every step is idempotent (a decided send answers
"already decided"). A reply to any other chat (a wrong link code, a button
pressed elsewhere) is best effort: tried once, briefly, dropped on any failure,
and after a 429 no such reply is tried until Telegram's ``retry_after`` has
passed, so a stranger can never hold the owner's updates.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import controls, pending, sessions
from waiaas_daemon.domain.notify.messages import format_amount, format_time
from waiaas_daemon.domain.telegram.api import BotApi, TelegramError, TelegramUnavailable
from waiaas_daemon.domain.telegram.link import Guesses, linked_changed
from waiaas_daemon.domain.telegram.prompts import Prompts, amount_data, may_approve_in_chat
from waiaas_daemon.domain.telegram.updates import (
    HELP,
    Command,
    Decide,
    Foreign,
    Ignored,
    Link,
    Stale,
    already_line,
    classify,
    hash_secret,
    outcome_line,
    settled_line,
)
from waiaas_daemon.storage import Event, TransactionRow
from waiaas_daemon.storage import telegram as store

if TYPE_CHECKING:
    from waiaas_daemon.domain.state import DaemonState

log = logging.getLogger("waiaas.telegram")

MAX_LISTED = 10
_MAX_TEXT = 4096
# A reply to a chat that is not the owner's: how long it may take, and how long such
# replies stay off after one failed without Telegram saying how long to wait.
BEST_EFFORT_WAIT = 3.0
BEST_EFFORT_QUIET = 30.0


def owner_actor(chat_id: str) -> str:
    return f"owner:telegram:{chat_id}"


class Bot:
    def __init__(self, state: DaemonState, api: BotApi) -> None:
        self._state = state
        self._api = api
        self._prompts = Prompts(state)
        self.guesses = Guesses()
        self._owner: str | None = None
        # Replies to other chats than the owner's are not tried before this time.
        self._quiet_until = 0.0

    async def owner_chat(self) -> str | None:
        """The linked owner chat, read again (the console may have unlinked it)."""
        owner = await store.owner_chat(self._state.db)
        self._owner = owner.chat_id if owner else None
        return self._owner

    async def handle(self, update: dict[str, Any]) -> None:
        action = classify(update, await self.owner_chat())
        if isinstance(action, Link):
            await self._link(action)
        elif isinstance(action, Command):
            await self._command(action)
        elif isinstance(action, Decide):
            await self._decide(action)
        elif isinstance(action, Stale):
            await self._answer(action.callback_id, "This button is no longer valid. Try /pending.")
        elif isinstance(action, Foreign):
            await self._foreign(action)
        else:
            await self._ignore(action)

    # -- linking, commands, strangers ------------------------------------------

    async def _link(self, action: Link) -> None:
        if not action.private:
            await self._ignore(Ignored(action.chat_id, "a link code outside a private chat"))
            return
        now = self._state.now()
        if self.guesses.blocked(action.chat_id, now):
            # Used up its guesses: the code is not even looked at, and nothing is said.
            await self._ignore(Ignored(action.chat_id, "too many wrong link codes"))
            return
        event = Event(
            owner_actor(action.chat_id),
            "telegram.link",
            details={"chatId": action.chat_id, "name": action.name},
        )
        linked = await store.use_link_code(
            self._state.db,
            hash_secret(action.code),
            action.chat_id,
            action.name,
            self._state.now(),
            [event],
        )
        if not linked:
            await store.count_ignored(self._state.db)
            left = self.guesses.wrong(action.chat_id, now)
            text = "That code is unknown or expired."
            if left == 0:
                text += " Too many wrong codes: this chat's codes are ignored for an hour."
            # Best effort even from the owner chat: the code is spent or wrong either way,
            # so handling the update again could only say "unknown" once more.
            await self._best_effort("sendMessage", {"chat_id": action.chat_id, "text": text})
            return
        linked_changed(self._state, True)
        text = (
            f"Linked: this chat ({action.chat_id}) now receives approval requests and may "
            "decide them.\n" + HELP
        )
        await self._best_effort("sendMessage", {"chat_id": action.chat_id, "text": text})

    async def _ignore(self, action: Ignored) -> None:
        # No answer, so a stranger learns nothing; `waiaas telegram status` shows the count.
        await store.count_ignored(self._state.db)

    async def _foreign(self, action: Foreign) -> None:
        await store.count_ignored(self._state.db)
        await self._state.db.emit(
            [
                Event(
                    f"telegram:{action.chat_id}",
                    "telegram.foreign",
                    details={"chatId": action.chat_id, "button": action.data[:1]},
                )
            ]
        )
        params = {"callback_query_id": action.callback_id, "text": "Not allowed."}
        await self._best_effort("answerCallbackQuery", params)

    async def _command(self, action: Command) -> None:
        if action.name == "status":
            await self._say(action.chat_id, await self._status())
        elif action.name == "pending":
            await self._pending(action.chat_id)
        elif action.name == "killswitch":
            await self._kill_switch(action)
        elif action.name == "sessions":
            await self._say(action.chat_id, await self._sessions())
        elif action.name == "revoke":
            await self._revoke(action)
        else:
            await self._say(action.chat_id, HELP)

    async def _status(self) -> str:
        db = self._state.db
        switch = await db.get_kill_switch()
        wallets = await db.list_wallets()
        waiting = await db.waiting_transactions()
        lines = [
            "Kill switch: " + (f"ON ({switch.reason or 'no reason'})" if switch.active else "off")
        ]
        for wallet in wallets[:MAX_LISTED]:
            if wallet.status != "TERMINATED":
                lines.append(f"Wallet {wallet.name}: {wallet.status}")
        lines.append(f"Waiting for you: {len(waiting)} (send /pending)")
        return "\n".join(lines)

    async def _pending(self, chat_id: str) -> None:
        waiting = await self._state.db.waiting_transactions()
        if not waiting:
            await self._say(chat_id, "Nothing waits for you.")
            return
        if len(waiting) > MAX_LISTED:
            await self._say(chat_id, f"{len(waiting)} sends wait; the oldest {MAX_LISTED}:")
        for tx in waiting[:MAX_LISTED]:
            params, nonce_hash = await self._prompts.new(tx, chat_id, self._describe(tx))
            message = await self._polite("sendMessage", params)
            if isinstance(message, dict) and isinstance(message.get("message_id"), int):
                await store.prompt_sent(self._state.db, nonce_hash, message["message_id"])

    def _describe(self, tx: TransactionRow) -> str:
        if tx.status == "QUEUED":
            when = f"goes out at {format_time(tx.execute_at)} unless you reject it"
        else:
            when = f"expires at {format_time(tx.approval_expires_at)}"
        return (
            f"{tx.tier} send of {format_amount(amount_data(tx))} to {tx.to_address}: "
            f"{tx.status}, {when}.\nTransaction {tx.id}"
        )

    async def _sessions(self) -> str:
        """The active sessions, OAuth grants among them, with the ids /revoke takes."""
        db = self._state.db
        now = self._state.now()
        names = {w.id: w.name for w in await db.list_wallets()}
        active = [
            s for s in await db.list_sessions(None) if s.revoked_at is None and s.expires_at > now
        ]
        if not active:
            return "No active sessions."
        lines = [f"Active sessions ({len(active)}); end one with /revoke <id>:"]
        for session in active[:MAX_LISTED]:
            lines.append(
                f"{session.label or 'no label'} on {names.get(session.wallet_id, '?')}, "
                f"until {format_time(session.expires_at)}: {session.id}"
            )
        return "\n".join(lines)

    async def _revoke(self, action: Command) -> None:
        """Ending a session protects, like the kill switch: the owner chat may do it.

        The id, or a prefix of at least 8 characters that names one active session.
        """
        wanted = action.args[0].lower() if action.args else ""
        now = self._state.now()
        matches = [
            s
            for s in await self._state.db.list_sessions(None)
            if len(wanted) >= 8
            and s.id.startswith(wanted)
            and s.revoked_at is None
            and s.expires_at > now
        ]
        if len(matches) != 1:
            await self._say(
                action.chat_id,
                "Use: /revoke <session id> (or its first 8 characters); /sessions lists them.",
            )
            return
        await sessions.revoke(self._state, matches[0].id, actor=owner_actor(action.chat_id))
        await self._say(
            action.chat_id, f"Revoked {matches[0].label or 'the session'}: {matches[0].id}"
        )

    async def _kill_switch(self, action: Command) -> None:
        verb = action.args[0].lower() if action.args else ""
        if verb == "on":
            reason = " ".join(action.args[1:])[:500] or "turned on from Telegram"
            await controls.set_kill_switch(
                self._state, True, reason, actor=owner_actor(action.chat_id)
            )
            await self._say(
                action.chat_id,
                "Kill switch ON: nothing is sent. Turn it off from the CLI "
                "(waiaas kill-switch off) or the console; never from a chat.",
            )
        elif verb == "off":
            await self._say(
                action.chat_id,
                "The kill switch is never turned off from a chat: use `waiaas kill-switch off` "
                "or the console.",
            )
        else:
            await self._say(action.chat_id, "Use: /killswitch on [reason]")

    # -- decisions ---------------------------------------------------------------

    async def _decide(self, action: Decide) -> None:
        nonce_hash = hash_secret(action.nonce)
        prompt = await store.get_prompt(self._state.db, nonce_hash)
        genuine = (
            prompt is not None
            and prompt.transaction_id == action.tx_id
            and prompt.chat_id == action.chat_id
            and (prompt.message_id is None or prompt.message_id == action.message_id)
        )
        tx = await self._state.db.get_transaction(action.tx_id)
        if not genuine or tx is None:
            await self._refused(action, "not a button the daemon sent with this message")
            await self._answer(action.callback_id, "This button is not valid.")
            return
        if action.kind == "approve" and tx.status in pending.WAITING:
            allowed, limit = await may_approve_in_chat(self._state, tx)
            if not allowed:
                await self._refused(action, f"above the chat approval limit {limit}")
                await self._answer(
                    action.callback_id,
                    f"Above your chat limit: approve it in the console or with "
                    f"waiaas approve {tx.id}",
                    alert=True,
                )
                return
        actor = owner_actor(action.chat_id)
        try:
            if action.kind == "approve":
                decided = await pending.approve(self._state, tx.id, actor=actor)
            else:
                decided = await pending.reject(
                    self._state, tx.id, "rejected from Telegram", actor=actor
                )
        except WaiaasError as exc:
            await self._not_decided(action, exc, nonce_hash)
            return
        await store.close_prompt(self._state.db, nonce_hash, self._state.now(), used=True)
        when = datetime.fromtimestamp(self._state.now(), UTC).strftime("%Y-%m-%d %H:%M UTC")
        await self._edit(action, outcome_line(action.kind, actor, decided.status, when))
        verb = "Approved" if action.kind == "approve" else "Rejected"
        await self._answer(action.callback_id, f"{verb}: {decided.status}")

    async def close_settled(self) -> int:
        """Take the buttons off messages whose send was decided elsewhere; how many."""
        await self.owner_chat()
        settled = await store.settled_prompts(self._state.db)
        for prompt, status in settled:
            assert prompt.message_id is not None
            text = (prompt.text or "")[: _MAX_TEXT - 100] + settled_line(status)
            params = {"chat_id": prompt.chat_id, "message_id": prompt.message_id, "text": text}
            await self._polite("editMessageText", params)
            await store.close_prompt(self._state.db, prompt.nonce_hash, self._state.now())
        return len(settled)

    async def _not_decided(self, action: Decide, exc: WaiaasError, nonce_hash: str) -> None:
        if exc.code != "TRANSACTION_NOT_PENDING":
            # Held (kill switch, suspension): it still waits, the buttons stay.
            await self._answer(action.callback_id, exc.message, alert=True)
            return
        fresh = await self._state.db.get_transaction(action.tx_id)
        status = fresh.status if fresh else "unknown"
        await self._edit(action, already_line(status))
        await store.close_prompt(self._state.db, nonce_hash, self._state.now())
        await self._answer(action.callback_id, f"Already decided: {status}")

    async def _refused(self, action: Decide, why: str) -> None:
        await self._state.db.emit(
            [
                Event(
                    owner_actor(action.chat_id),
                    "telegram.refused",
                    transaction_id=action.tx_id,
                    details={"button": action.kind, "why": why},
                )
            ]
        )

    # -- replies -------------------------------------------------------------------

    async def _say(self, chat_id: str, text: str) -> None:
        await self._polite("sendMessage", {"chat_id": chat_id, "text": text[:_MAX_TEXT]})

    async def _answer(self, callback_id: str, text: str, *, alert: bool = False) -> None:
        params = {"callback_query_id": callback_id, "text": text[:200], "show_alert": alert}
        await self._polite("answerCallbackQuery", params)

    async def _edit(self, action: Decide, line: str) -> None:
        if action.message_id is None:
            return
        base = action.text[: _MAX_TEXT - len(line)]
        params = {"chat_id": action.chat_id, "message_id": action.message_id, "text": base + line}
        await self._polite("editMessageText", params)  # no reply_markup: the buttons go

    async def _polite(self, method: str, params: dict[str, Any]) -> Any:
        """A reply Telegram refuses (too old a callback, an unchanged text) is not retried.

        Only for the owner chat: a reply to any other chat goes through ``_best_effort``.
        """
        chat = params.get("chat_id")
        if chat is not None and str(chat) != self._owner:
            return await self._best_effort(method, params)
        try:
            return await self._api.call(method, params)
        except TelegramError as exc:
            if exc.retry:
                raise
            log.info("telegram %s refused: HTTP %d", method, exc.status)
            return None

    async def _best_effort(self, method: str, params: dict[str, Any]) -> Any:
        """Tried once and briefly; any failure drops the reply and never holds the updates."""
        now = self._state.now()
        if now < self._quiet_until:
            log.debug("telegram %s to a chat not the owner's skipped (rate limited)", method)
            return None
        try:
            return await self._api.call(method, params, wait=BEST_EFFORT_WAIT)
        except TelegramUnavailable as exc:
            wait = BEST_EFFORT_QUIET if exc.retry_after is None else exc.retry_after
            self._quiet_until = now + wait
            log.info("telegram %s to a chat not the owner's dropped: %s", method, exc)
        except TelegramError as exc:
            log.info("telegram %s to a chat not the owner's refused: HTTP %d", method, exc.status)
        return None
