"""Sends, airdrops, constraints, pagination and isolation, in-process on the local chain."""

import anyio
import pytest
from solders.keypair import Keypair

from tests.daemon.conftest import MASTER
from waiaas_daemon.domain import settlement, transactions

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
FEE = 5000


async def _funded(harness, name="main", lamports=10 * SOL, **session_body):
    wallet = await harness.wallet(name)
    response = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(lamports)}, headers=MASTER
    )
    assert response.status_code == 201, response.text
    session = await harness.session(wallet["id"], **session_body)
    return wallet, {"Authorization": f"Bearer {session['token']}"}


async def _balance(harness, headers):
    response = await harness.http.get("/v1/wallet/balance", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def _send(harness, headers, to, amount, **extra):
    return await harness.http.post(
        "/v1/transactions/send", json={"to": to, "amount": str(amount), **extra}, headers=headers
    )


async def test_airdrop_is_a_transaction_record(harness):
    _, headers = await _funded(harness, lamports=2 * SOL)
    assert await _balance(harness, headers) == 2 * SOL
    items = (await harness.http.get("/v1/transactions", headers=headers)).json()["items"]
    assert [(t["type"], t["status"], t["amount"]) for t in items] == [
        ("AIRDROP", "CONFIRMED", str(2 * SOL))
    ]


async def test_send_moves_amount_and_charges_the_fee(harness):
    _, alice = await _funded(harness, "alice")
    bob_wallet, bob = await _funded(harness, "bob", lamports=SOL)
    response = await _send(harness, alice, bob_wallet["address"], SOL, memo="rent")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "CONFIRMED" and len(body["signature"]) > 60
    assert await _balance(harness, alice) == 9 * SOL - FEE
    assert await _balance(harness, bob) == 2 * SOL
    tx = (await harness.http.get(f"/v1/transactions/{body['id']}", headers=alice)).json()
    assert (tx["type"], tx["to"], tx["amount"], tx["memo"]) == (
        "TRANSFER",
        bob_wallet["address"],
        str(SOL),
        "rent",
    )


async def test_send_to_fresh_account_below_rent_minimum_fails_with_the_chains_reason(harness):
    _, alice = await _funded(harness)
    fresh = str(Keypair().pubkey())
    response = await _send(harness, alice, fresh, 1000)
    assert response.status_code == 201
    tx = (await harness.http.get(f"/v1/transactions/{response.json()['id']}", headers=alice)).json()
    assert tx["status"] == "FAILED" and "rent" in tx["error"].lower()
    assert await _balance(harness, alice) == 10 * SOL - FEE  # the fee is still paid


async def test_send_above_balance_is_refused_and_nothing_recorded(harness):
    _, alice = await _funded(harness, lamports=SOL)
    response = await _send(harness, alice, str(Keypair().pubkey()), SOL)
    assert (response.status_code, response.json()["code"]) == (400, "INSUFFICIENT_BALANCE")
    items = (await harness.http.get("/v1/transactions", headers=alice)).json()["items"]
    assert [t["type"] for t in items] == ["AIRDROP"]


async def test_two_identical_sends_are_two_transfers(harness):
    _, alice = await _funded(harness)
    bob = str(Keypair().pubkey())
    first = (await _send(harness, alice, bob, SOL)).json()
    second = (await _send(harness, alice, bob, SOL)).json()
    assert first["signature"] != second["signature"]
    assert first["status"] == second["status"] == "CONFIRMED"
    assert await _balance(harness, alice) == 8 * SOL - 2 * FEE


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"amount": "1"}, "INVALID_REQUEST", "to"),
        ({"to": "11111111111111111111111111111111"}, "INVALID_REQUEST", "amount"),
        ({"to": "nope", "amount": "1"}, "INVALID_ADDRESS", "to"),
        ({"to": "0" * 44, "amount": "1"}, "INVALID_ADDRESS", "to"),
        ({"to": "11111111111111111111111111111111", "amount": "0"}, "INVALID_REQUEST", "amount"),
        ({"to": "11111111111111111111111111111111", "amount": "-5"}, "INVALID_REQUEST", "amount"),
        ({"to": "11111111111111111111111111111111", "amount": "1.5"}, "INVALID_REQUEST", "amount"),
        (
            {"to": "11111111111111111111111111111111", "amount": str(2**64)},
            "INVALID_REQUEST",
            "amount",
        ),
        ({"to": "11111111111111111111111111111111", "amount": 1.0}, "INVALID_REQUEST", "amount"),
        (
            {"to": "11111111111111111111111111111111", "amount": "1", "memo": "x" * 300},
            "INVALID_REQUEST",
            "memo",
        ),
    ],
)
async def test_bad_send_is_refused_naming_the_field(harness, body, code, field):
    _, alice = await _funded(harness, lamports=SOL)
    response = await harness.http.post("/v1/transactions/send", json=body, headers=alice)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert field in response.json()["message"]


async def test_max_amount_per_tx_is_inclusive(harness):
    _, alice = await _funded(harness, constraints={"maxAmountPerTx": str(SOL)})
    bob = str(Keypair().pubkey())
    assert (await _send(harness, alice, bob, SOL)).status_code == 201
    over = await _send(harness, alice, bob, SOL + 1)
    assert (over.status_code, over.json()["code"]) == (403, "CONSTRAINT_VIOLATED")


async def test_recipient_outside_allowed_recipients_is_refused(harness):
    bob = str(Keypair().pubkey())
    _, alice = await _funded(harness, constraints={"allowedRecipients": [bob]})
    assert (await _send(harness, alice, bob, SOL)).status_code == 201
    other = await _send(harness, alice, str(Keypair().pubkey()), SOL)
    assert (other.status_code, other.json()["code"]) == (403, "CONSTRAINT_VIOLATED")
    assert len((await harness.http.get("/v1/transactions", headers=alice)).json()["items"]) == 2


async def test_ten_parallel_sends_never_pass_the_daily_limit(harness):
    _, alice = await _funded(harness, constraints={"maxAmountPerDay": str(3 * SOL)})
    bob = str(Keypair().pubkey())
    results = []

    async def one():
        results.append(await _send(harness, alice, bob, SOL))

    async with anyio.create_task_group() as group:
        for _ in range(10):
            group.start_soon(one)
    assert sorted(r.status_code for r in results) == [201] * 3 + [403] * 7
    assert await _balance(harness, alice) == 7 * SOL - 3 * FEE


async def test_daily_limit_rolls_over_after_24_hours(harness):
    _, alice = await _funded(
        harness, constraints={"maxAmountPerDay": str(SOL)}, expiresIn=7 * 86400
    )
    bob = str(Keypair().pubkey())
    assert (await _send(harness, alice, bob, SOL)).status_code == 201
    assert (await _send(harness, alice, bob, SOL)).status_code == 403
    harness.clock.advance(86399)
    assert (await _send(harness, alice, bob, SOL)).status_code == 403
    harness.clock.advance(1)
    assert (await _send(harness, alice, bob, SOL)).status_code == 201


async def test_failed_sends_do_not_use_the_daily_limit(harness):
    _, alice = await _funded(harness, constraints={"maxAmountPerDay": "2000"})
    fresh = str(Keypair().pubkey())
    assert (await _send(harness, alice, fresh, 2000)).json()["status"] == "FAILED"
    assert (await _send(harness, alice, fresh, 2000)).status_code == 201


async def test_pagination_is_newest_first_and_ends_with_null(harness):
    _, alice = await _funded(harness)
    bob = str(Keypair().pubkey())
    sent = [(await _send(harness, alice, bob, SOL + i)).json()["id"] for i in range(4)]
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await harness.http.get("/v1/transactions", params=params, headers=alice)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen[:4] == sent[::-1] and len(seen) == 5  # the airdrop comes last


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=x", "cursor=bad!", "cursor=eA"])
async def test_bad_pagination_is_invalid_request(harness, query):
    _, alice = await _funded(harness, lamports=SOL)
    response = await harness.http.get(f"/v1/transactions?{query}", headers=alice)
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")


async def test_a_wallets_token_never_sees_another_wallets_transactions(harness):
    _, alice = await _funded(harness, "alice")
    bob_wallet, bob = await _funded(harness, "bob")
    sent = (await _send(harness, bob, str(Keypair().pubkey()), SOL)).json()
    response = await harness.http.get(f"/v1/transactions/{sent['id']}", headers=alice)
    assert (response.status_code, response.json()["code"]) == (404, "TRANSACTION_NOT_FOUND")
    mine = (await harness.http.get("/v1/transactions", headers=alice)).json()["items"]
    assert sent["id"] not in [t["id"] for t in mine]
    address = (await harness.http.get("/v1/wallet/address", headers=alice)).json()
    assert address["address"] != bob_wallet["address"]


async def test_airdrop_refused_on_a_network_without_a_faucet(harness):
    response = await harness.http.post(
        "/v1/wallets", json={"name": "m", "network": "mainnet"}, headers=MASTER
    )
    wallet = response.json()
    airdrop = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1"}, headers=MASTER
    )
    assert (airdrop.status_code, airdrop.json()["code"]) == (400, "INVALID_REQUEST")


async def test_terminated_wallet_cannot_spend_or_receive_airdrops(harness):
    wallet, alice = await _funded(harness)
    await harness.http.delete(f"/v1/wallets/{wallet['id']}", headers=MASTER)
    airdrop = await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1"}, headers=MASTER
    )
    assert airdrop.json()["code"] == "WALLET_TERMINATED"
    spend = await _send(harness, alice, str(Keypair().pubkey()), SOL)
    assert (spend.status_code, spend.json()["code"]) == (401, "SESSION_REVOKED")


async def test_reconcile_settles_what_a_crash_left_unsettled(harness):
    wallet, _ = await _funded(harness)
    row = await harness.state.db.get_wallet(wallet["id"])
    chain = harness.state.chain_for("local")
    from waiaas_daemon.domain.wallets import signer

    # 1: recorded, never signed. 2: signed, never submitted. 3: submitted and applied
    # by the chain, but the daemon died before saving the outcome.
    never_signed = await transactions._record(
        harness.state, row, "TRANSFER", str(Keypair().pubkey()), SOL, None, None
    )
    prepared = await chain.prepare_transfer(signer(harness.state, row), wallet["address"], 1, None)
    signed = await transactions._record(
        harness.state, row, "TRANSFER", wallet["address"], 1, None, None
    )
    await transactions._update(
        harness.state, signed.id, signature=prepared.signature, raw=prepared.raw
    )
    bob = str(Keypair().pubkey())
    applied_prep = await chain.prepare_transfer(signer(harness.state, row), bob, SOL, None)
    applied = await transactions._record(harness.state, row, "TRANSFER", bob, SOL, None, None)
    await transactions._update(
        harness.state,
        applied.id,
        signature=applied_prep.signature,
        raw=applied_prep.raw,
        status="SUBMITTED",
    )
    await chain.submit(applied_prep)

    assert await settlement.reconcile(harness.state) == 3
    status = {
        t.id: (t.status, t.error)
        for t in [
            await harness.state.db.get_transaction(i)
            for i in (never_signed.id, signed.id, applied.id)
        ]
    }
    assert status[never_signed.id][0] == "FAILED"
    assert status[signed.id][0] in ("CONFIRMED", "FAILED")
    assert status[applied.id] == ("CONFIRMED", None)
    assert await harness.state.db.unsettled_transactions() == []
    assert await settlement.reconcile(harness.state) == 0
