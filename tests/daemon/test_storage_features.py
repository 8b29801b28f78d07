"""The SQL of the features merged after the first PostgreSQL round, on both backends:
policy writes with a version precondition, per-token totals, x402 payment rows,
the Telegram bot's tables. Races use two stores on one database, as two daemons do."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest

from tests.daemon.test_storage_rows import WALLET
from waiaas_daemon.chain.base import AccountSnapshot
from waiaas_daemon.storage import DuplicateKey, VersionConflict
from waiaas_daemon.storage import telegram as store

pytestmark = pytest.mark.anyio

NOW = 1_000_000
MINT = "Mint111111111111111111111111111111111111111"
BIG = str(2**64 - 1)  # the largest amount: sums of two overflow int64


def _send(n: int, **fields):
    row = {
        "id": f"0b1f9c7e-0000-4000-8000-{n:012d}",
        "wallet_id": WALLET.id,
        "session_id": None,
        "type": "TRANSFER",
        "status": "CONFIRMED",
        "to_address": "bob",
        "amount": "1",
        "memo": None,
        "created_at": NOW - 10,
        "updated_at": NOW - 10,
    }
    row.update(fields)
    return row


# -- policy versions ---------------------------------------------------------------


async def test_a_policy_write_with_a_version_writes_only_over_that_version(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        first = await db.put_policy(WALLET.id, '{"a":1}', NOW, expected_version=0)
        assert (first.version, first.document) == (1, '{"a":1}')
        with pytest.raises(VersionConflict) as conflict:
            await db.put_policy(WALLET.id, '{"b":1}', NOW, expected_version=0)
        assert conflict.value.current == 1
        second = await db.put_policy(WALLET.id, '{"c":1}', NOW + 1, expected_version=1)
        assert (second.version, second.document, second.updated_at) == (2, '{"c":1}', NOW + 1)
        with pytest.raises(VersionConflict) as conflict:
            await db.put_policy(WALLET.id, '{"d":1}', NOW, expected_version=7)
        assert conflict.value.current == 2
        unconditional = await db.put_policy(WALLET.id, "{}", NOW)
        assert unconditional.version == 3
        assert await db.get_policy(WALLET.id) == unconditional


async def test_a_version_on_a_wallet_without_policy_conflicts_at_zero(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        with pytest.raises(VersionConflict) as conflict:
            await db.put_policy(WALLET.id, "{}", NOW, expected_version=3)
        assert conflict.value.current == 0
        assert await db.get_policy(WALLET.id) is None


async def test_policy_writes_from_one_version_through_two_stores_have_one_winner(open_store):
    """Two daemons (two stores on one database) writing over the same version at once."""
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(open_store())
        two = await stack.enter_async_context(open_store())
        await one.insert_wallet(WALLET)
        for version in range(4):
            outcomes: list[str] = []

            async def write(db, name, version=version, outcomes=outcomes):
                try:
                    await db.put_policy(WALLET.id, f'{{"{name}":1}}', NOW, expected_version=version)
                    outcomes.append(name)
                except VersionConflict as exc:
                    assert exc.current == version + 1
                    outcomes.append("conflict")

            async with anyio.create_task_group() as group:
                for n, db in enumerate([one, two, one, two]):
                    group.start_soon(write, db, f"w{n}")
            assert sorted(outcomes).count("conflict") == 3, outcomes
            stored = await two.get_policy(WALLET.id)
            assert stored is not None and stored.version == version + 1
            winner = next(o for o in outcomes if o != "conflict")
            assert stored.document == f'{{"{winner}":1}}'


# -- what the limits count ---------------------------------------------------------


async def test_token_totals_sum_exactly_and_count_payments_as_send_inputs_does(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        token = {"token_mint": MINT, "token_symbol": "USDC", "token_decimals": 6}
        old = NOW - 2 * 86400
        for n, fields in enumerate(
            [
                {"amount": BIG, **token},
                {"amount": BIG, **token},
                {"amount": "5", "type": "PAYMENT", "idempotency_key": "k", **token},
                {"amount": "7", "created_at": old, **token},  # the month, not the day
                {"amount": "1000", "status": "FAILED", **token},  # not counted
                {"amount": "3", "token_mint": "Other", "token_symbol": "O", "token_decimals": 0},
                {"amount": "11"},  # SOL: not a token
            ]
        ):
            await db.insert_send(_send(n, **fields))
        totals = await db.token_totals(WALLET.id, NOW)
        day = 2 * (2**64 - 1) + 5
        assert totals == {MINT: (day, day + 7), "Other": (3, 3)}
        inputs = await db.send_inputs(WALLET.id, None, NOW, mint=MINT)
        assert (inputs.daily, inputs.monthly) == (day, day + 7)
        sol = await db.send_inputs(WALLET.id, None, NOW)
        assert (sol.daily, sol.monthly, sol.sends_this_hour) == (11, 11, 6)


async def test_sol_payments_count_toward_the_sol_totals(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        await db.insert_send(_send(1, amount="40", type="PAYMENT", idempotency_key="k"))
        await db.insert_send(_send(2, amount="2"))
        inputs = await db.send_inputs(WALLET.id, None, NOW)
        assert (inputs.daily, inputs.monthly) == (42, 42)


# -- x402 payments -------------------------------------------------------------------


def _payment(n: int, key: str | None, **fields):
    defaults = {
        "type": "PAYMENT",
        "status": "PENDING",
        "idempotency_key": key,
        "payment_url": "https://api.example/paid",
        "payment_origin": "https://api.example",
        "payment_network": "solana-devnet",
    }
    return _send(n, **{**defaults, **fields})


async def test_payment_rows_read_held_and_settle(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        paid = await db.insert_send(_payment(1, "key-1", signature="sig-1", status="SUBMITTED"))
        assert await db.get_payment(WALLET.id, "key-1") == paid
        assert await db.get_payment(WALLET.id, "other") is None
        url = "https://api.example/paid"
        assert await db.held_payment(WALLET.id, url, "s1") is None
        await db.insert_send(
            _payment(2, None, status="QUEUED", created_at=NOW - 5, session_id="s1")
        )
        held = await db.insert_send(
            _payment(3, None, status="APPROVED", created_at=NOW - 4, session_id="s1")
        )
        assert await db.held_payment(WALLET.id, url, "s1") == held
        # Another session's held payment is not this session's.
        assert await db.held_payment(WALLET.id, url, "s2") is None
        account = AccountSnapshot("acct", 5, b"\x00\x01", "owner", False, 0)
        settled = await db.settle_payment_landed(["nope", "sig-1"], "settle-sig", [account], NOW)
        assert settled is not None and settled.id == paid.id
        assert (settled.status, settled.payment_settlement) == ("CONFIRMED", "settle-sig")
        assert await db.settle_payment_landed(["sig-1"], "again", [], NOW) is None
        assert await db.settle_payment_landed([], "none", [], NOW) is None
        assert [a.address for a in await db.load_accounts()] == ["acct"]


async def test_one_idempotency_key_through_two_stores_at_once_is_one_payment(open_store):
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(open_store())
        two = await stack.enter_async_context(open_store())
        await one.insert_wallet(WALLET)
        outcomes: list[str] = []

        async def pay(db, n):
            try:
                await db.insert_send(_payment(n, "same-key"))
                outcomes.append("paid")
            except DuplicateKey:
                outcomes.append("duplicate")

        async with anyio.create_task_group() as group:
            for n, db in enumerate([one, two, one, two], start=1):
                group.start_soon(pay, db, n)
        assert sorted(outcomes) == ["duplicate", "duplicate", "duplicate", "paid"]
        # The key is per wallet's payment: no key at all is never a duplicate.
        await one.insert_send(_payment(10, None))
        await two.insert_send(_payment(11, None))
        payment = await two.get_payment(WALLET.id, "same-key")
        assert payment is not None and payment.type == "PAYMENT"


# -- the Telegram bot's tables ---------------------------------------------------------


async def test_telegram_link_codes_owner_and_unlink(open_store):
    async with open_store() as db:
        assert await store.owner_chat(db) is None
        await store.new_link_code(db, "h-old", NOW, NOW + 600)
        await store.new_link_code(db, "h-new", NOW, NOW + 600)
        assert await store.link_pending(db, NOW) == NOW + 600
        assert not await store.use_link_code(db, "h-old", "42", "me", NOW, [])  # replaced
        assert not await store.use_link_code(db, "h-new", "42", "me", NOW + 600, [])  # expired
        assert await store.use_link_code(db, "h-new", "42", "me", NOW, [])
        assert not await store.use_link_code(db, "h-new", "42", "me", NOW, [])  # spent
        owner = await store.owner_chat(db)
        assert owner is not None and (owner.chat_id, owner.name) == ("42", "me")
        assert await store.unlink(db, [])
        assert not await store.unlink(db, [])
        assert await store.owner_chat(db) is None


async def test_telegram_offset_never_goes_back_and_ignored_counts(open_store):
    async with open_store() as db:
        assert await store.offset(db) == 0
        await store.save_offset(db, 10)
        await store.save_offset(db, 4)
        assert await store.offset(db) == 10
        await store.save_offset(db, 11)
        assert await store.offset(db) == 11
        await store.count_ignored(db)
        await store.count_ignored(db)
        assert await store.ignored(db) == 2


async def test_telegram_prompts_close_settle_and_prune(open_store):
    async with open_store() as db:
        await db.insert_wallet(WALLET)
        waiting = await db.insert_send(_send(1, status="PENDING_APPROVAL"))
        done = await db.insert_send(_send(2, status="REJECTED"))
        await store.add_prompt(db, "n1", "ev", waiting.id, "42", "text 1", NOW)
        await store.add_prompt(db, "n2", None, done.id, "42", "text 2", NOW)
        await store.prompt_sent(db, "n1", 500)
        await store.prompt_sent(db, "n2", 501)
        settled = await store.settled_prompts(db)
        assert [(p.nonce_hash, status) for p, status in settled] == [("n2", "REJECTED")]
        await store.close_prompt(db, "n2", NOW + 1)
        await store.close_prompt(db, "n1", NOW + 2, used=True)
        n1, n2 = await store.get_prompt(db, "n1"), await store.get_prompt(db, "n2")
        assert n1 is not None and n1.message_id == 500
        assert (n1.used_at, n1.closed_at) == (NOW + 2, NOW + 2)
        assert n2 is not None and (n2.used_at, n2.closed_at) == (None, NOW + 1)
        assert await store.settled_prompts(db) == []
        await store.prune_prompts(db, NOW + 2)
        assert await store.get_prompt(db, "n2") is None
        assert await store.get_prompt(db, "n1") is not None


# -- a role one daemon plays at a time -------------------------------------------------


async def test_a_role_is_held_by_one_store_and_passes_on_when_it_ends(open_store):
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(open_store())
        two = await stack.enter_async_context(open_store())
        holders: list[str] = []
        released = anyio.Event()
        second_in = anyio.Event()

        async def first() -> None:
            async with one.exclusive("poller"):
                holders.append("one")
                await released.wait()
            holders.append("one out")

        async def second() -> None:
            async with two.exclusive("poller"):
                holders.append("two")
                second_in.set()

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(first)
                while not holders:
                    await anyio.sleep(0.01)
                group.start_soon(second)
                if one.shared:
                    # On a shared database the second waits for as long as the first holds.
                    with anyio.move_on_after(1.5):
                        await second_in.wait()
                    assert holders == ["one"]
                    released.set()
                    await second_in.wait()
                    assert holders == ["one", "one out", "two"]
                else:
                    # One daemon per SQLite file: the role is there at once.
                    await second_in.wait()
                    released.set()


async def test_a_role_whose_connection_breaks_is_no_longer_held_and_passes_on(postgres_url):
    """The database drops the holder's connection (a restart, a network cut): the holder
    learns it at its next check, and a waiting daemon gets the role."""
    import asyncpg

    from waiaas_daemon.storage.postgres import PostgresStorage

    async with PostgresStorage.open(postgres_url) as one, PostgresStorage.open(postgres_url) as two:
        with anyio.fail_after(30):
            async with one.exclusive("poller"):
                assert await one.holds("poller")
                assert not await two.holds("poller")
                admin = await asyncpg.connect(postgres_url)
                try:
                    killed = await admin.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND granted"
                    )
                finally:
                    await admin.close()
                assert killed == 1
                assert not await one.holds("poller")
                async with two.exclusive("poller"):
                    assert await two.holds("poller")
            assert not await one.holds("poller")


# -- the send path's writes ------------------------------------------------------------


async def test_the_gate_commits_on_its_own_and_stops_at_the_kill_switch(open_store):
    """The signature's save is one statement committed by itself: another store (another
    daemon's, or this one after a crash) sees it at once; a kill switch on stops it."""
    async with open_store() as db, open_store() as other:
        await db.insert_wallet(WALLET)
        first = await db.insert_send(_send(1, status="PENDING"))
        second = await db.insert_send(_send(2, status="PENDING"))
        signed = {"status": "SUBMITTED", "signature": "sig-1", "raw": b"\x01", "updated_at": NOW}
        swapped = await db.swap_transaction(first.id, ("PENDING",), signed, gate=True)
        assert swapped is not None and (swapped.status, swapped.raw) == ("SUBMITTED", b"\x01")
        seen = await other.get_transaction(first.id)
        assert seen is not None and (seen.status, seen.signature) == ("SUBMITTED", "sig-1")
        assert await db.swap_transaction(first.id, ("PENDING",), signed, gate=True) is None
        await other.set_kill_switch(True, "stop", NOW)
        assert await db.swap_transaction(second.id, ("PENDING",), signed, gate=True) is None
        settled = await db.settle_transaction(first.id, {"status": "CONFIRMED", "updated_at": NOW})
        assert settled is not None and settled.status == "CONFIRMED"  # the row it wrote
        assert await db.settle_transaction(first.id, {"status": "CONFIRMED"}) is None
