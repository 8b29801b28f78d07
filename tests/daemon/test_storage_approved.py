"""APPROVED x402 payments in storage, on both backends: the revoke paths cancel them (with
their audit event), the scheduler's queries see their deadline, a payment is found by the
payer's signature."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from waiaas_daemon.storage import NewSession, NewWallet

pytestmark = pytest.mark.anyio

WALLET = NewWallet(
    id="0b1f9c7e-0000-4000-8000-0000000000b1",
    name="main",
    chain="solana",
    network="local",
    address="addr",
    status="ACTIVE",
    created_at=100,
    key_ciphertext=b"c",
    key_nonce=b"n",
    key_salt=b"s",
    kdf="{}",
)
SESSION = "0b1f9c7e-0000-4000-8000-0000000000c1"


def _session(label: str = "mcp") -> NewSession:
    return NewSession(
        id=SESSION,
        wallet_id=WALLET.id,
        label=label,
        token_hash="h1",
        ttl=600,
        expires_at=700,
        constraints=None,
        created_at=100,
    )


def _payment(tx_id: str, status: str, expires: int | None, signature: str | None = None):
    return {
        "id": tx_id,
        "wallet_id": WALLET.id,
        "session_id": SESSION,
        "type": "PAYMENT",
        "status": status,
        "to_address": "shop",
        "amount": "5",
        "created_at": 100,
        "updated_at": 100,
        "tier": "APPROVAL",
        "payment_url": "https://shop.example/report",
        "approval_expires_at": expires,
        "signature": signature,
    }


class _Events:
    def __init__(self) -> None:
        self.seen: list[Any] = []

    async def __call__(self, db: Any, events: Any) -> list[str]:
        self.seen.extend(events)
        return []


async def _store_with_payments(db: Any) -> _Events:
    events = _Events()
    db.sink = events
    await db.insert_wallet(WALLET)
    await db.insert_session(_session(), limit=5, now=100, replace_label=None)
    await db.insert_send(_payment("a0000000-0000-4000-8000-000000000001", "APPROVED", 400))
    await db.insert_send(_payment("a0000000-0000-4000-8000-000000000002", "CONFIRMED", None))
    return events


@pytest.mark.parametrize("how", ["revoke", "terminate", "replace"])
async def test_the_revoke_paths_cancel_approved_payments(open_store, how: str):
    async with open_store() as db:
        events = await _store_with_payments(db)
        if how == "revoke":
            await db.revoke_session(SESSION, 200)
        elif how == "terminate":
            await db.terminate_wallet(WALLET.id, 200)
        else:
            replacement = dataclasses.replace(_session(), id=SESSION[:-2] + "c2", token_hash="h2")
            await db.insert_session(replacement, limit=5, now=200, replace_label="mcp")
        approved = await db.get_transaction("a0000000-0000-4000-8000-000000000001")
        assert (approved.status, approved.reason) == ("CANCELLED", "the session was revoked")
        confirmed = await db.get_transaction("a0000000-0000-4000-8000-000000000002")
        assert confirmed.status == "CONFIRMED"
        cancelled = [e for e in events.seen if e.action == "send_cancelled"]
        assert [e.transaction_id for e in cancelled] == [approved.id]
        assert await db.next_due() is None


async def test_the_scheduler_sees_an_approved_payments_deadline(open_store):
    async with open_store() as db:
        await _store_with_payments(db)
        assert await db.next_due() == 400
        assert await db.due_transactions(399) == []
        assert [t.id for t in await db.due_transactions(400)] == [
            "a0000000-0000-4000-8000-000000000001"
        ]


async def test_a_payment_is_found_by_the_payers_signature(open_store):
    async with open_store() as db:
        await _store_with_payments(db)
        await db.insert_send(
            _payment("a0000000-0000-4000-8000-000000000003", "SUBMITTED", None, "sig-b")
        )
        found = await db.payment_signed_by(["sig-a", "sig-b"])
        assert found is not None and found.id == "a0000000-0000-4000-8000-000000000003"
        assert await db.payment_signed_by(["sig-z"]) is None
        assert await db.payment_signed_by([]) is None
