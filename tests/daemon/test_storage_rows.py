"""Storage typed in and out, on both backends: each write answers with the row it wrote."""

import pytest

from waiaas_daemon.storage import NewSession, NewTransaction, NewWallet

pytestmark = pytest.mark.anyio

WALLET = NewWallet(
    id="0b1f9c7e-0000-4000-8000-000000000001",
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


def _session(session_id="0b1f9c7e-0000-4000-8000-0000000000a1"):
    return NewSession(
        id=session_id,
        wallet_id=WALLET.id,
        label="mcp",
        token_hash="h1",
        ttl=60,
        expires_at=160,
        constraints={"maxAmountPerTx": "5"},
        created_at=100,
    )


async def test_writes_answer_with_the_full_row_they_wrote(open_store):
    async with open_store() as db:
        wallet = await db.insert_wallet(WALLET)
        assert wallet.seq == 1 and wallet.name == "main"
        session = await db.insert_session(_session(), limit=5, now=100, replace_label=None)
        assert session.constraints == {"maxAmountPerTx": "5"} and session.renewal_count == 0
        renewed = await db.swap_session_token(
            session.id, "h1", "h2", expires_at=200, now=140, prev_valid_until=150.0
        )
        assert renewed is not None and (renewed.token_hash, renewed.renewal_count) == ("h2", 1)
        assert await db.get_session(session.id) == renewed


async def test_a_lost_compare_and_swap_answers_none_and_changes_nothing(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        session = await db.insert_session(_session(), limit=5, now=100, replace_label=None)
        swap = dict(expires_at=200, now=140, prev_valid_until=150.0)
        assert await db.swap_session_token(session.id, "stale", "h2", **swap) is None
        assert await db.get_session(session.id) == session


async def test_revoking_twice_keeps_the_first_time_and_unknown_is_none(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        session = await db.insert_session(_session(), limit=5, now=100, replace_label=None)
        assert (await db.revoke_session(session.id, 110)).revoked_at == 110
        assert (await db.revoke_session(session.id, 120)).revoked_at == 110
        assert await db.revoke_session("0b1f9c7e-0000-4000-8000-0000000000ff", 120) is None


async def test_terminating_a_wallet_answers_it_and_revokes_its_sessions(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        session = await db.insert_session(_session(), limit=5, now=100, replace_label=None)
        await db.get_session(session.id)  # cached
        assert (await db.terminate_wallet(WALLET.id, 130)).status == "TERMINATED"
        assert (await db.get_session(session.id)).revoked_at == 130
        assert (await db.get_wallet(WALLET.id)).status == "TERMINATED"


async def test_a_transaction_update_answers_the_row_and_refuses_fixed_columns(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        tx = await db.insert_transaction(
            NewTransaction(
                id="t1",
                wallet_id=WALLET.id,
                session_id=None,
                type="TRANSFER",
                status="PENDING",
                to_address="x",
                amount="5",
                memo=None,
                created_at=100,
                updated_at=100,
            )
        )
        assert tx.seq == 1 and tx.signature is None
        done = await db.update_transaction("t1", {"status": "CONFIRMED", "updated_at": 101})
        assert (done.status, done.updated_at, done.amount) == ("CONFIRMED", 101, "5")
        with pytest.raises(ValueError, match="amount"):
            await db.update_transaction("t1", {"amount": "6"})


async def test_set_meta_once_answers_the_stored_value(open_store):
    async with open_store() as db:
        assert await db.set_meta_once("k", b"first") == b"first"
        assert await db.set_meta_once("k", b"second") == b"first"


async def test_a_transaction_cancelled_while_it_begins_leaves_the_writer_usable(open_store):
    import anyio

    async with open_store() as db:
        # Deadlines from 0 to 2 ms: some land while BEGIN runs on the worker thread.
        for step in range(200):
            with anyio.move_on_after(step * 1e-5):
                async with db.transaction() as conn:
                    await conn.execute("SELECT 1")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('k', ?)", (b"\x00",))
        assert await db.get_meta("k") == b"\x00"
