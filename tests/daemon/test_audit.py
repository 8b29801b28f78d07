"""The hash-chained audit log against a real SQLite file, through the daemon's Database."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import audit
from waiaas_daemon.domain.eventlog import EventLog
from waiaas_daemon.storage import Database, Event

pytestmark = pytest.mark.anyio

WALLET = "0b7d2a52-5a0e-4a39-9d39-3f7c9f0e2d11"
OTHER = "5f2c1e10-1111-4a39-9d39-3f7c9f0e2d22"
SESSION = "9a1e6f0c-2222-4a39-9d39-3f7c9f0e2d33"
TOKEN = "wai_sess_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def path(tmp_path):
    return tmp_path / "waiaas.db"


async def fill(db: Database, count: int, start: int = 0) -> None:
    async with db.transaction() as conn:
        for n in range(start, start + count):
            await audit.append(
                conn,
                at=1_800_000_000 + n,
                actor="owner" if n % 2 else f"session:{SESSION}",
                action="send.denied" if n % 3 else "policy.set",
                wallet_id=WALLET if n % 4 else OTHER,
                details={"n": n, "rule": "maxAmount", "note": "é ✓"},
            )


def tamper(path, sql: str, params=()) -> None:
    with sqlite3.connect(path) as db:
        db.execute(sql, params)


async def verify(path):
    async with Database.open(path) as db:
        return await audit.verify(db._reader)


async def test_the_chain_is_ok_after_many_appends_across_pages(path, monkeypatch):
    monkeypatch.setattr(audit, "_PAGE", 7)
    async with Database.open(path) as db:
        assert await audit.verify(db._reader) == {"ok": True, "entries": 0, "firstBadSeq": None}
        for start in range(0, 120, 30):
            await fill(db, 30, start)
        assert await audit.verify(db._reader) == {"ok": True, "entries": 120, "firstBadSeq": None}


async def test_the_hash_is_sha256_of_the_previous_hash_and_the_canonical_entry(path):
    async with Database.open(path) as db, db.transaction() as conn:
        first = await audit.append(
            conn,
            at=1_800_000_000.7,
            actor="owner",
            action="wallet.create",
            wallet_id=WALLET,
            details={"name": "main", "address": "So1ana"},
        )
        second = await audit.append(
            conn,
            at=1_800_000_001,
            actor="daemon",
            action="kill_switch.on",
            details={"reason": "ünusual"},
        )
    body = (
        '{"action":"wallet.create","actor":"owner","at":1800000000,'
        '"details":{"address":"So1ana","name":"main"},"seq":1,"sessionId":null,'
        f'"transactionId":null,"walletId":"{WALLET}"}}'
    )
    assert first["hash"] == hashlib.sha256(("0" * 64 + body).encode()).hexdigest()
    body2 = (
        '{"action":"kill_switch.on","actor":"daemon","at":1800000001,'
        '"details":{"reason":"ünusual"},"seq":2,"sessionId":null,'
        '"transactionId":null,"walletId":null}'
    )
    assert second["hash"] == hashlib.sha256((first["hash"] + body2).encode()).hexdigest()


@pytest.mark.parametrize("seq", [1, 17, 40])
async def test_editing_one_rows_details_is_found_at_that_seq(path, seq):
    async with Database.open(path) as db:
        await fill(db, 40)
    tamper(path, "UPDATE audit_log SET details = ? WHERE seq = ?", ('{"n":0}', seq))
    assert await verify(path) == {"ok": False, "entries": 40, "firstBadSeq": seq}


async def test_editing_a_column_and_recomputing_its_hash_is_found_at_the_next_row(path):
    async with Database.open(path) as db:
        await fill(db, 10)
    tamper(
        path, "UPDATE audit_log SET action = 'policy.clear', hash = ? WHERE seq = 4", ("f" * 64,)
    )
    assert (await verify(path))["firstBadSeq"] == 4
    async with Database.open(path) as db:
        rows = await db._reader.execute_fetchall("SELECT * FROM audit_log WHERE seq = 3")
        prev = rows[0]["hash"]
        row = audit._from_row(
            (await db._reader.execute_fetchall("SELECT * FROM audit_log WHERE seq = 4"))[0]
        )
    row.pop("hash")
    tamper(path, "UPDATE audit_log SET hash = ? WHERE seq = 4", (audit.entry_hash(prev, row),))
    assert (await verify(path))["firstBadSeq"] == 5


@pytest.mark.parametrize(("deleted", "bad"), [(1, 1), (13, 13), (30, 30)])
async def test_deleting_a_row_first_middle_or_last_is_found(path, deleted, bad):
    async with Database.open(path) as db:
        await fill(db, 30)
    tamper(path, "DELETE FROM audit_log WHERE seq = ?", (deleted,))
    assert await verify(path) == {"ok": False, "entries": 29, "firstBadSeq": bad}


async def test_deleting_the_newest_rows_and_the_head_is_found(path):
    async with Database.open(path) as db:
        await fill(db, 30)
    tamper(path, "DELETE FROM audit_log WHERE seq > 25")
    assert (await verify(path))["firstBadSeq"] == 26
    tamper(path, "DELETE FROM audit_head")
    assert (await verify(path))["firstBadSeq"] == 26


async def test_a_rolled_back_transaction_leaves_no_entry_and_the_chain_goes_on(path):
    async with Database.open(path) as db:
        await fill(db, 3)
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await audit.append(conn, at=1, actor="owner", action="wallet.create")
                raise RuntimeError("the wallet insert failed")
        await fill(db, 2, start=3)
        assert await audit.verify(db._reader) == {"ok": True, "entries": 5, "firstBadSeq": None}
        page = await audit.list_entries(db._reader, limit=1)
        assert page["items"][0]["seq"] == 5


async def test_the_head_kept_in_memory_is_checked_by_every_append(path):
    """On SQLite the event log starts each entry from the head of its own last append
    (one statement fewer); a rollback or another writer makes that stale, and the
    append then reads the row, so the chain stays one."""
    log = EventLog(lambda: 1_800_000_000)
    event = Event("owner", "wallet.create", WALLET)
    async with Database.open(path) as db:
        async with db.transaction() as conn:
            await log.write(conn, [event, event])
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await log.write(conn, [event])  # seq 3, rolled back: the guess is stale
                raise RuntimeError("the wallet insert failed")
        async with db.transaction() as conn:
            await log.write(conn, [event])
        await fill(db, 2, start=10)  # another writer (seq 4, 5): stale again
        async with db.transaction() as conn:
            await log.write(conn, [event])
        assert await audit.verify(db._reader) == {"ok": True, "entries": 6, "firstBadSeq": None}
        seqs = [e["seq"] for e in (await audit.list_entries(db._reader))["items"]]
    assert seqs == [6, 5, 4, 3, 2, 1]


async def test_a_guessed_head_saves_the_read_of_the_head_row(path):
    reads: list[str] = []
    log = EventLog(lambda: 1_800_000_000)
    async with Database.open(path) as db:
        await db._writer.set_trace_callback(reads.append)
        for _ in range(3):
            async with db.transaction() as conn:
                await log.write(conn, [Event("owner", "wallet.create", WALLET)])
        await db._writer.set_trace_callback(None)
    assert sum("FROM audit_head" in sql for sql in reads) == 1  # the first append only


@pytest.mark.parametrize(
    "details",
    [
        {"password": PASSWORD},
        {"masterPassword": PASSWORD},
        {"session": {"token": TOKEN}},
        {"privateKey": "4Zx..."},
        {"webhook_secret": "s"},
        {"items": [{"apiKey": "k"}]},
        {"note": f"the agent sent {TOKEN}"},
        {"key": "x"},
    ],
)
async def test_a_secret_in_details_is_refused_and_never_reaches_the_table(path, details):
    async with Database.open(path) as db:
        with pytest.raises(audit.SecretInAudit):
            async with db.transaction() as conn:
                await audit.append(
                    conn, at=1, actor="owner", action="session.create", details=details
                )
        await fill(db, 2)
    dump = "\n".join(sqlite3.connect(path).iterdump())
    for secret in (PASSWORD, TOKEN, "4Zx...", "apiKey", "webhook_secret"):
        assert secret not in dump


async def test_public_keys_and_mints_are_allowed(path):
    async with Database.open(path) as db, db.transaction() as conn:
        entry = await audit.append(
            conn,
            at=1,
            actor="owner",
            action="wallet.create",
            details={"publicKey": "So1", "tokenMint": "Mint1", "to": "Dest"},
        )
    assert entry["details"]["publicKey"] == "So1"


@pytest.mark.parametrize(
    ("field", "value"), [("action", "wallet.explode"), ("actor", "root"), ("actor", "session:")]
)
async def test_an_unknown_action_or_actor_is_refused(path, field, value):
    kwargs = {"at": 1, "actor": "owner", "action": "wallet.create", field: value}
    async with Database.open(path) as db:
        with pytest.raises(ValueError, match=field):
            async with db.transaction() as conn:
                await audit.append(conn, **kwargs)


async def test_listing_is_newest_first_filtered_and_paged_by_an_opaque_cursor(path):
    async with Database.open(path) as db:
        await fill(db, 25)
        page = await audit.list_entries(db._reader, limit=10)
        assert [e["seq"] for e in page["items"]] == list(range(25, 15, -1))
        seen, cursor = [], None
        while True:
            page = await audit.list_entries(
                db._reader, wallet_id=WALLET, action="send.denied", limit=4, cursor=cursor
            )
            seen += page["items"]
            cursor = page["cursor"]
            if cursor is None:
                break
        expected = [n + 1 for n in range(24, -1, -1) if n % 4 and n % 3]
        assert [e["seq"] for e in seen] == expected
        assert all(e["walletId"] == WALLET and e["action"] == "send.denied" for e in seen)
        item = seen[0]
        assert set(item) == {
            "seq",
            "at",
            "actor",
            "action",
            "walletId",
            "sessionId",
            "transactionId",
            "details",
            "hash",
        }
        assert item["details"]["note"] == "é ✓"
        json.dumps(item)


@pytest.mark.parametrize(
    "query",
    [{"cursor": "bm9wZTox"}, {"cursor": "%%%"}, {"limit": 0}, {"limit": 101}, {"action": "nope"}],
)
async def test_bad_listing_arguments_are_invalid_request_naming_the_field(path, query):
    async with Database.open(path) as db:
        with pytest.raises(WaiaasError) as caught:
            await audit.list_entries(db._reader, **query)
    assert caught.value.code == "INVALID_REQUEST"
    assert next(iter(query)) in str(caught.value)
