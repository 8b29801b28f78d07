"""Wallet names are unique among live wallets, on both backends, even when created at once."""

from __future__ import annotations

import anyio
import pytest

from tests.daemon.conftest import MASTER
from waiaas_daemon.storage import NameTaken, NewWallet

pytestmark = pytest.mark.anyio


def _wallet(n: int, name: str = "main") -> NewWallet:
    return NewWallet(
        id=f"00000000-0000-4000-8000-{n:012d}",
        name=name,
        chain="solana",
        network="local",
        address=f"address-{n}",
        status="ACTIVE",
        created_at=1,
        key_ciphertext=b"c",
        key_nonce=b"n",
        key_salt=b"s",
        kdf="argon2id",
    )


async def test_a_second_live_wallet_of_one_name_is_refused_by_the_store(open_store):
    async with open_store() as db:
        await db.insert_wallet(_wallet(1))
        with pytest.raises(NameTaken):
            await db.insert_wallet(_wallet(2))
        assert [w.name for w in await db.list_wallets()] == ["main"]


async def test_a_terminated_wallet_frees_its_name(open_store):
    async with open_store() as db:
        await db.insert_wallet(_wallet(1))
        await db.terminate_wallet(_wallet(1).id, 2)
        await db.insert_wallet(_wallet(2))
        renamed = await db.rename_wallet(_wallet(1).id, "main")  # terminated: not counted
        assert renamed is not None


async def test_renaming_onto_a_live_name_is_refused_and_changes_nothing(open_store):
    async with open_store() as db:
        await db.insert_wallet(_wallet(1, "main"))
        await db.insert_wallet(_wallet(2, "spare"))
        with pytest.raises(NameTaken):
            await db.rename_wallet(_wallet(2).id, "main")
        assert sorted(w.name for w in await db.list_wallets()) == ["main", "spare"]
        assert await db.rename_wallet("00000000-0000-4000-8000-999999999999", "x") is None


async def test_concurrent_creations_of_one_name_leave_exactly_one(open_store):
    async with open_store() as db:
        outcomes: list[str] = []

        async def create(n: int) -> None:
            try:
                await db.insert_wallet(_wallet(n))
                outcomes.append("created")
            except NameTaken:
                outcomes.append("taken")

        async with anyio.create_task_group() as group:
            for n in range(8):
                group.start_soon(create, n)
        assert sorted(outcomes) == ["created"] + ["taken"] * 7
        assert len(await db.list_wallets()) == 1


async def test_the_api_answers_409_naming_the_field_and_rename_works(harness):
    first = await harness.wallet("main")
    again = await harness.http.post("/v1/wallets", json={"name": "main"}, headers=MASTER)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "WALLET_NAME_TAKEN"
    assert again.json()["message"].startswith("name:")
    second = await harness.wallet("spare")
    clash = await harness.http.patch(
        f"/v1/wallets/{second['id']}", json={"name": "main"}, headers=MASTER
    )
    assert clash.status_code == 409 and clash.json()["code"] == "WALLET_NAME_TAKEN"
    renamed = await harness.http.patch(
        f"/v1/wallets/{first['id']}", json={"name": "daily"}, headers=MASTER
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "daily"
    audit = await harness.http.get("/v1/audit?action=wallet.rename", headers=MASTER)
    [entry] = audit.json()["items"]
    assert entry["details"] == {"from": "main", "to": "daily"}
    assert entry["walletName"] == "daily"
    gone = await harness.http.delete(f"/v1/wallets/{second['id']}", headers=MASTER)
    assert gone.status_code == 200
    dead = await harness.http.patch(
        f"/v1/wallets/{second['id']}", json={"name": "x"}, headers=MASTER
    )
    assert dead.status_code == 403 and dead.json()["code"] == "WALLET_TERMINATED"
    bad = await harness.http.patch(f"/v1/wallets/{first['id']}", json={"name": ""}, headers=MASTER)
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_REQUEST"


async def test_an_older_database_with_two_live_wallets_of_one_name_is_migrated(tmp_path):
    import sqlite3

    from waiaas_daemon.storage import MIGRATIONS, Database

    path = tmp_path / "waiaas.db"
    with sqlite3.connect(path) as db:
        ours = next(i for i, script in enumerate(MIGRATIONS) if "wallets_live_name" in script)
        for number, script in enumerate(MIGRATIONS[:ours], start=1):
            db.executescript(f"{script}\nPRAGMA user_version = {number};")
        for n in (1, 2, 3):
            values = _wallet(n)
            db.execute(
                "INSERT INTO wallets (id, name, chain, network, address, status, created_at, "
                "key_ciphertext, key_nonce, key_salt, kdf) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    values.id,
                    "main",
                    "solana",
                    "local",
                    values.address,
                    "TERMINATED" if n == 3 else "ACTIVE",
                    1,
                    b"c",
                    b"n",
                    b"s",
                    "argon2id",
                ),
            )
    async with Database.open(path) as store:
        names = {w.id: w.name for w in await store.list_wallets()}
    assert names[_wallet(1).id] == "main"
    assert names[_wallet(2).id] == "main (00000000)"
    assert names[_wallet(3).id] == "main"  # terminated: left as it was
