"""Approval messages with buttons: made for the outbox's Telegram deliveries and for /pending.

Each message carries a fresh random nonce in its callback data; only its
SHA-256 is stored, with the transaction, the chat and (once Telegram answers)
the message id, so a button works only on the message it was sent with.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

import httpx

from waiaas_daemon.domain import policy
from waiaas_daemon.domain.notify.channels import OutgoingRequest
from waiaas_daemon.domain.notify.messages import format_amount
from waiaas_daemon.domain.pending import WAITING
from waiaas_daemon.domain.telegram.updates import above_limit_note, hash_secret, keyboard
from waiaas_daemon.schemas.policy import usd_micros
from waiaas_daemon.storage import TransactionRow
from waiaas_daemon.storage import telegram as store

if TYPE_CHECKING:
    from waiaas_daemon.domain.notify.outbox import Delivery
    from waiaas_daemon.domain.state import DaemonState

# Notifications about a send that waits for the owner: they get the buttons.
PROMPTED = ("approval_required", "tx_queued")


def amount_data(tx: TransactionRow) -> dict[str, Any]:
    data: dict[str, Any] = {"amount": tx.amount, "network": tx.network}
    if tx.token_mint is not None:
        data.update(symbol=tx.token_symbol or tx.token_mint[:8], decimals=tx.token_decimals or 0)
    return data


async def chat_limit(state: DaemonState, tx: TransactionRow) -> int | None:
    """The wallet policy's ``chatApprovalMax`` for this send's asset; None: no limit."""
    row = await state.db.get_policy(tx.wallet_id)
    rules = policy.load(row.document if row else None)
    limits: Any = rules if tx.token_mint is None else (rules.tokens or {}).get(tx.token_mint)
    value = getattr(limits, "chat_approval_max", None) if limits is not None else None
    return None if value is None else int(value)


async def may_approve_in_chat(state: DaemonState, tx: TransactionRow) -> tuple[bool, str]:
    """(allowed, the limit as a person reads it) for a tap on Approve.

    The asset's ``chatApprovalMax`` and the dollar one (``usd.chatApprovalMax``, against
    the value recorded when the send was decided; a send without one is above it).
    """
    limit = await chat_limit(state, tx)
    if limit is not None and int(tx.amount) > limit:
        return False, format_amount({**amount_data(tx), "amount": str(limit)})
    row = await state.db.get_policy(tx.wallet_id)
    usd = policy.load(row.document if row else None).usd
    dollars = usd.chat_approval_max if usd is not None else None
    if dollars is not None and (tx.usd_micros is None or tx.usd_micros > usd_micros(dollars)):
        return False, f"${dollars}"
    return True, ""


class Prompts:
    """The notifier's hook (notify.worker.TelegramPrompts) and the /pending messages."""

    def __init__(self, state: DaemonState) -> None:
        self._state = state

    async def new(
        self, tx: TransactionRow, chat_id: str, text: str, event_id: str | None = None
    ) -> tuple[dict[str, Any], str]:
        """The sendMessage parameters for ``tx`` with fresh buttons, and the stored nonce hash."""
        nonce = secrets.token_urlsafe(16)
        allowed, limit = await may_approve_in_chat(self._state, tx)
        if not allowed:
            text += above_limit_note(tx.id, limit)
        nonce_hash = hash_secret(nonce)
        now = self._state.now()
        await store.add_prompt(self._state.db, nonce_hash, event_id, tx.id, chat_id, text, now)
        params = {
            "chat_id": chat_id,
            "text": text,
            "reply_markup": keyboard(tx.id, nonce, can_approve=allowed),
        }
        return params, nonce_hash

    async def request(
        self, delivery: Delivery, request: OutgoingRequest
    ) -> tuple[OutgoingRequest, str | None]:
        """An approval message goes to the linked owner chat, with buttons; others as they are
        (to the linked chat when no telegram_chat_id is configured)."""
        owner = await store.owner_chat(self._state.db)
        if owner is None:
            return request, None
        tx_id = delivery.data.get("transactionId")
        tx = await self._state.db.get_transaction(str(tx_id)) if tx_id else None
        if delivery.type not in PROMPTED or tx is None or tx.status not in WAITING:
            # Decided before it could be delivered: told without buttons.
            return _to_owner(request, owner.chat_id), None
        text = json.loads(request.content)["text"]
        params, nonce_hash = await self.new(tx, owner.chat_id, text, delivery.event_id)
        content = json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode()
        return OutgoingRequest(request.method, request.url, request.headers, content), nonce_hash

    async def sent(self, prompt: str, response: httpx.Response) -> None:
        """Keep the message id Telegram gave the message, so only its own buttons count."""
        try:
            message_id = response.json()["result"]["message_id"]
        except (ValueError, KeyError, TypeError):
            return
        if isinstance(message_id, int):
            await store.prompt_sent(self._state.db, prompt, message_id)


def _to_owner(request: OutgoingRequest, chat_id: str) -> OutgoingRequest:
    body = json.loads(request.content)
    if body.get("chat_id"):
        return request
    content = json.dumps({**body, "chat_id": chat_id}, separators=(",", ":"), ensure_ascii=False)
    return OutgoingRequest(request.method, request.url, request.headers, content.encode())
