"""A claimed waiting send that was never signed goes back to waiting, never FAILED."""

import pytest

from waiaas_daemon.domain import settlement

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("tier", "origin"), [("DELAY", "QUEUED"), ("APPROVAL", "PENDING_APPROVAL")]
)
async def test_reconcile_puts_a_claimed_unsigned_send_back_where_it_waited(harness, tier, origin):
    wallet = await harness.wallet()
    now = harness.state.now()
    tx = await harness.state.db.insert_send(
        {
            "id": f"0b1f9c7e-0000-4000-8000-00000000000{len(tier)}",
            "wallet_id": wallet["id"],
            "session_id": None,
            "type": "TRANSFER",
            "status": "PENDING",  # claimed by a daemon that stopped before signing
            "to_address": wallet["address"],
            "amount": "5",
            "created_at": now,
            "updated_at": now,
            "tier": tier,
            "decided_at": now,
        }
    )
    assert await settlement.reconcile(harness.state) == 1
    again = await harness.state.db.get_transaction(tx.id)
    assert again.status == origin and again.signature is None
    assert again.error == "not sent yet: the daemon or its database stopped before it went out"
