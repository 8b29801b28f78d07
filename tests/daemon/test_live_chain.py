"""The local chain through a real daemon: transfers, a durable ledger, SIGKILL mid-burst."""

import random
import sqlite3
import threading
import time

import httpx
import pytest
from solders.keypair import Keypair

from tests.support.daemon import FAST_SECURITY, running_daemon

SOL = 1_000_000_000
FEE = 5000


def _agent(daemon, wallet_id):
    token = daemon.create_session(wallet_id, expiresIn=3600)["token"]
    return httpx.Client(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _airdrop(daemon, wallet_id, lamports):
    response = daemon.api(
        "POST", f"/v1/wallets/{wallet_id}/airdrop", json={"amount": str(lamports)}
    )
    assert response.status_code == 201, response.text
    return response.json()


def _balance(agent):
    return int(agent.get("/v1/wallet/balance").json()["balance"])


def test_transfer_through_the_daemon_moves_exact_amounts(daemon):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    _airdrop(daemon, alice["id"], 5 * SOL)
    _airdrop(daemon, bob["id"], SOL)
    with _agent(daemon, alice["id"]) as a, _agent(daemon, bob["id"]) as b:
        sent = a.post("/v1/transactions/send", json={"to": bob["address"], "amount": "1234567"})
        assert sent.status_code == 201 and sent.json()["status"] == "CONFIRMED"
        assert _balance(a) == 5 * SOL - 1234567 - FEE
        assert _balance(b) == SOL + 1234567

        fresh = a.post(
            "/v1/transactions/send", json={"to": str(Keypair().pubkey()), "amount": "100"}
        )
        record = a.get(f"/v1/transactions/{fresh.json()['id']}").json()
        assert record["status"] == "FAILED" and "rent" in record["error"].lower()

        too_much = a.post(
            "/v1/transactions/send", json={"to": bob["address"], "amount": str(5 * SOL)}
        )
        assert (too_much.status_code, too_much.json()["code"]) == (400, "INSUFFICIENT_BALANCE")
        kinds = [(t["type"], t["status"]) for t in a.get("/v1/transactions").json()["items"]]
        assert kinds == [
            ("TRANSFER", "FAILED"),
            ("TRANSFER", "CONFIRMED"),
            ("AIRDROP", "CONFIRMED"),
        ]


def test_balances_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    with running_daemon(data, config={"security": FAST_SECURITY}) as first:
        alice, bob = first.create_wallet("alice"), first.create_wallet("bob")
        _airdrop(first, alice["id"], 3 * SOL)
        with _agent(first, alice["id"]) as a:
            a.post("/v1/transactions/send", json={"to": bob["address"], "amount": str(SOL)})
        assert first.stop() == 0
    with (
        running_daemon(data) as second,
        _agent(second, alice["id"]) as a,
        _agent(second, bob["id"]) as b,
    ):
        assert _balance(a) == 2 * SOL - FEE
        assert _balance(b) == SOL
        # The restored ledger keeps working: rent rules and fees as before.
        again = a.post("/v1/transactions/send", json={"to": bob["address"], "amount": "7"})
        assert again.json()["status"] == "CONFIRMED"
        assert _balance(b) == SOL + 7


def _burst(base_url, token, bob, amount, stop, accepted):
    """Send until stopped or the daemon dies; note every send the daemon accepted."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=5) as http:
        while not stop.is_set():
            try:
                response = http.post(
                    "/v1/transactions/send", json={"to": bob["address"], "amount": amount}
                )
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                accepted.append(response.json()["id"])


@pytest.mark.slow
def test_sigkill_during_a_burst_of_sends_loses_no_accepted_send(tmp_path):
    data = tmp_path / "data"
    rng = random.Random(7)
    accepted: list[str] = []
    with running_daemon(data, config={"security": FAST_SECURITY}) as first:
        alice, bob = first.create_wallet("alice"), first.create_wallet("bob")
        _airdrop(first, alice["id"], 100 * SOL)
        _airdrop(first, bob["id"], SOL)  # so that small transfers to bob are rent-exempt
        token = first.create_session(alice["id"], expiresIn=3600)["token"]
    for round_ in range(3):
        with running_daemon(data) as running:
            stop = threading.Event()
            amount = str(1000 + round_)
            threads = [
                threading.Thread(
                    target=_burst, args=(running.base_url, token, bob, amount, stop, accepted)
                )
                for _ in range(4)
            ]
            for thread in threads:
                thread.start()
            # Kill mid-burst: once this round has had sends accepted, at a random moment.
            goal = len(accepted) + 5
            deadline = time.monotonic() + 30
            while len(accepted) < goal and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))
            running.kill()
            stop.set()
            for thread in threads:
                thread.join(10)
    assert len(accepted) >= 15, "the burst never got going; the test proved nothing"

    with running_daemon(data) as last:
        with (
            httpx.Client(
                base_url=last.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
            ) as a,
            _agent(last, bob["id"]) as b,
        ):
            records = [a.get(f"/v1/transactions/{tx_id}") for tx_id in accepted]
            assert all(r.status_code == 200 for r in records)
            statuses = {r.json()["status"] for r in records}
            assert statuses <= {"CONFIRMED", "FAILED", "SUBMITTED"}, statuses
            # Everything was reconciled at start, so the ledger and the records agree.
            items, cursor = [], None
            while True:
                page = a.get(
                    "/v1/transactions",
                    params={"limit": 100, **({"cursor": cursor} if cursor else {})},
                ).json()
                items += page["items"]
                cursor = page["cursor"]
                if not cursor:
                    break
            assert not [t for t in items if t["status"] in ("PENDING", "SUBMITTED")]
            confirmed = [t for t in items if t["type"] == "TRANSFER" and t["status"] == "CONFIRMED"]
            assert len(confirmed) >= len(accepted)
            assert _balance(b) == SOL + sum(int(t["amount"]) for t in confirmed)
            assert _balance(a) == 100 * SOL - sum(int(t["amount"]) + FEE for t in confirmed)
        assert last.stop() == 0
    with sqlite3.connect(data / "waiaas.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_tier_and_every_denial_through_the_daemon(daemon):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    _airdrop(daemon, alice["id"], 50 * SOL)
    _airdrop(daemon, bob["id"], SOL)
    policy = {
        "instantMax": str(SOL),
        "notifyMax": str(2 * SOL),
        "delayMax": str(3 * SOL),
        "allowedRecipients": [bob["address"]],
        "maxSendsPerHour": 5,
        "autoSuspendAfterDenials": 0,
    }
    assert daemon.api("PUT", f"/v1/wallets/{alice['id']}/policy", json=policy).status_code == 200
    token = daemon.create_session(
        alice["id"], expiresIn=3600, constraints={"maxAmountPerTx": str(10 * SOL)}
    )["token"]
    with httpx.Client(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as agent:

        def send(amount, to=bob["address"]):
            return agent.post("/v1/transactions/send", json={"to": to, "amount": str(amount)})

        answers = [send(a) for a in (SOL, 2 * SOL, 3 * SOL, 4 * SOL)]
        assert [(r.status_code, r.json()["tier"], r.json()["status"]) for r in answers] == [
            (201, "INSTANT", "CONFIRMED"),
            (201, "NOTIFY", "CONFIRMED"),
            (202, "DELAY", "QUEUED"),
            (202, "APPROVAL", "PENDING_APPROVAL"),
        ]
        over_cap = send(11 * SOL)
        stranger = send(SOL, to=str(Keypair().pubkey()))
        assert [(r.status_code, r.json()["code"]) for r in (over_cap, stranger)] == [
            (403, "CONSTRAINT_VIOLATED"),
            (403, "POLICY_DENIED"),
        ]
        send(SOL)  # the fifth recorded send of the hour
        limited = send(SOL)
        assert (limited.status_code, limited.json()["code"]) == (429, "RATE_LIMITED")
        assert 3590 <= int(limited.headers["retry-after"]) <= 3600
        pending = daemon.api("GET", "/v1/pending").json()["items"]
        assert [t["id"] for t in pending] == [answers[2].json()["id"], answers[3].json()["id"]]
        approved = daemon.api("POST", f"/v1/pending/{answers[3].json()['id']}/approve")
        assert approved.json()["status"] == "CONFIRMED"
        rejected = daemon.api("POST", f"/v1/pending/{answers[2].json()['id']}/reject")
        assert rejected.json()["status"] == "REJECTED"
