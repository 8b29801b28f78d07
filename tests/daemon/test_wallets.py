import pytest

from tests.daemon.conftest import MASTER, PASSWORD

pytestmark = pytest.mark.anyio


async def test_create_wallet_answers_the_wallet(harness):
    response = await harness.http.post("/v1/wallets", json={"name": "main"}, headers=MASTER)
    assert response.status_code == 201
    wallet = response.json()
    assert set(wallet) == {
        *("id", "name", "chain", "network", "address", "status", "createdAt"),
        *("suspendedReason", "suspendedAt"),
    }
    assert (wallet["chain"], wallet["network"], wallet["status"]) == ("solana", "local", "ACTIVE")
    assert 32 <= len(wallet["address"]) <= 44


async def test_create_wallet_on_another_network(harness):
    response = await harness.http.post(
        "/v1/wallets", json={"name": "dev", "network": "devnet"}, headers=MASTER
    )
    assert response.json()["network"] == "devnet"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a", "network": "moon"}, "network"),
        ({"name": "a", "extra": 1}, "extra"),
    ],
)
async def test_bad_wallet_body_names_the_field(harness, body, field):
    response = await harness.http.post("/v1/wallets", json=body, headers=MASTER)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert field in response.json()["message"]


async def test_list_and_get(harness):
    a = await harness.wallet("a")
    b = await harness.wallet("b")
    listed = (await harness.http.get("/v1/wallets", headers=MASTER)).json()["items"]
    assert [w["id"] for w in listed] == [a["id"], b["id"]]
    got = await harness.http.get(f"/v1/wallets/{b['id']}", headers=MASTER)
    assert got.json() == b


@pytest.mark.parametrize("wallet_id", ["00000000-0000-4000-8000-000000000000", "..x", "nope"])
async def test_get_unknown_or_malformed_id_is_not_found(harness, wallet_id):
    response = await harness.http.get(f"/v1/wallets/{wallet_id}", headers=MASTER)
    assert (response.status_code, response.json()["code"]) == (404, "WALLET_NOT_FOUND")


async def test_terminate_revokes_the_wallets_sessions(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    response = await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    assert response.json()["status"] == "TERMINATED"
    denied = await harness.as_agent(session["token"])
    assert (denied.status_code, denied.json()["code"]) == (401, "SESSION_REVOKED")
    again = await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    assert again.json()["status"] == "TERMINATED"


async def test_database_holds_no_secret_in_clear(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"])
    row = await harness.state.db.get_wallet(wallet["id"])
    from waiaas_daemon.domain.wallets import signer

    secret = bytes(signer(harness.state, row))
    raw = b"".join(
        p.read_bytes() for p in harness.state.data_dir.iterdir() if p.name.startswith("waiaas.db")
    )
    assert secret[:32] not in raw and secret not in raw
    assert session["token"].encode() not in raw
    assert PASSWORD.encode() not in raw
    assert wallet["address"].encode() in raw  # the scan does see the database's content


async def test_sealed_key_opens_to_the_wallets_address(harness):
    wallet = await harness.wallet()
    from waiaas_daemon.domain.wallets import signer

    row = await harness.state.db.get_wallet(wallet["id"])
    assert str(signer(harness.state, row).pubkey()) == wallet["address"]


async def test_argon2_never_runs_on_the_event_loop(harness, monkeypatch):
    import threading

    import argon2.low_level

    from waiaas_daemon.domain import keystore

    loop_thread = threading.get_ident()
    calls = []
    real = argon2.low_level.hash_secret_raw

    def watched(*args, **kwargs):
        calls.append(threading.get_ident() != loop_thread)
        return real(*args, **kwargs)

    monkeypatch.setattr(keystore, "hash_secret_raw", watched)
    wallet = await harness.wallet()  # seal: derives the new wallet's key
    harness.state.keystore._derived.clear()  # as after a restart
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "5000000000"}, headers=MASTER
    )
    session = await harness.session(wallet["id"])
    response = await harness.http.post(
        "/v1/transactions/send",
        json={"to": wallet["address"], "amount": "1000"},
        headers={"Authorization": f"Bearer {session['token']}"},
    )
    assert response.status_code == 201, response.text
    assert calls and all(calls), "argon2 ran on the event loop"
