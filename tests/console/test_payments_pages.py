"""PAYMENT records (x402) on the owner console: the wallet's list and the approvals."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.anyio

PAY_TO = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
MINT = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"


async def _payment(harness, wallet_id: str, status: str) -> str:
    now = harness.state.now()
    tx_id = str(uuid.uuid4())
    extra = {"approval_expires_at": now + 3600} if status == "PENDING_APPROVAL" else {}
    await harness.state.db.insert_send(
        {
            "id": tx_id,
            "wallet_id": wallet_id,
            "session_id": None,
            "type": "PAYMENT",
            "status": status,
            "to_address": PAY_TO,
            "amount": "250000",
            "memo": None,
            "created_at": now,
            "updated_at": now,
            "tier": "APPROVAL" if status == "PENDING_APPROVAL" else "INSTANT",
            "token_mint": MINT,
            "token_symbol": "USDC",
            "token_decimals": 6,
            "token_program": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
            "payment_url": "https://api.example.com/report?q=1",
            "payment_origin": "https://api.example.com",
            "payment_network": "solana:localnet",
            **extra,
        }
    )
    return tx_id


async def test_a_payment_shows_in_the_wallet_list_in_usdc_with_its_origin(harness, owner):
    wallet = await harness.wallet()
    await _payment(harness, wallet["id"], "CONFIRMED")
    page = await owner.http.get(f"/console/wallets/{wallet['id']}")
    assert page.status_code == 200, page.text
    assert "PAYMENT" in page.text
    assert "0.25 USDC" in page.text
    assert "for https://api.example.com" in page.text
    assert "report?q=1" not in page.text  # the origin only, never the path or query


async def test_a_payment_waiting_for_approval_is_listed_and_described(harness, owner):
    wallet = await harness.wallet()
    tx_id = await _payment(harness, wallet["id"], "PENDING_APPROVAL")
    listed = await owner.http.get("/console/approvals/list")
    assert "0.25 USDC" in listed.text and "payment" in listed.text
    page = await owner.http.get(f"/console/approvals/{tx_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    assert "https://api.example.com" in page.text and "x402" in page.text
