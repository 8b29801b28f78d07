"""Waiting sends across a SIGKILL of a real daemon: a QUEUED send whose time came is sent
exactly once after the start, never twice, and a PENDING_APPROVAL past expiry is EXPIRED."""

from __future__ import annotations

import random
import sqlite3
import time

import httpx

from tests.support.daemon import FAST_SECURITY, running_daemon, start_daemon

SOL = 1_000_000_000
CONFIG = {"security": FAST_SECURITY}
POLICY = {"instantMax": "1", "delayMax": str(SOL), "delaySeconds": 3600, "approvalTimeout": 3600}


def _db(data_dir):
    return sqlite3.connect(data_dir / "waiaas.db")


def _time_has_come(data_dir) -> None:
    """With the daemon dead, move every waiting send's time into the past."""
    with _db(data_dir) as db:
        db.execute("UPDATE transactions SET execute_at = 0 WHERE status = 'QUEUED'")
        db.execute(
            "UPDATE transactions SET approval_expires_at = 0 WHERE status = 'PENDING_APPROVAL'"
        )


def _statuses(data_dir) -> dict[str, tuple[str, str]]:
    with _db(data_dir) as db:
        rows = db.execute(
            "SELECT id, status, amount FROM transactions WHERE type = 'TRANSFER'"
        ).fetchall()
    return {tx_id: (status, amount) for tx_id, status, amount in rows}


def _balance(base_url: str, token: str) -> int:
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
        return int(http.get("/v1/wallet/balance").json()["balance"])


def _prepare(daemon, sends: int):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    for wallet in (alice, bob):
        response = daemon.api(
            "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(10 * SOL)}
        )
        assert response.status_code == 201
    assert daemon.api("PUT", f"/v1/wallets/{alice['id']}/policy", json=POLICY).status_code == 200
    agent = daemon.create_session(alice["id"], expiresIn=86400)
    bob_agent = daemon.create_session(bob["id"], expiresIn=86400)
    with httpx.Client(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {agent['token']}"}
    ) as http:
        queued = []
        for i in range(sends):
            sent = http.post(
                "/v1/transactions/send", json={"to": bob["address"], "amount": str(1000 + i)}
            )
            assert (sent.status_code, sent.json()["status"]) == (202, "QUEUED")
            queued.append(sent.json()["id"])
        waiting = http.post(
            "/v1/transactions/send", json={"to": bob["address"], "amount": str(2 * SOL)}
        )
        assert waiting.json()["status"] == "PENDING_APPROVAL"
    return queued, waiting.json()["id"], bob_agent["token"]


def _wait_settled(daemon, ids, timeout=15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = _statuses(daemon.data_dir)
        if all(statuses[i][0] in ("CONFIRMED", "FAILED") for i in ids):
            return
        time.sleep(0.05)
    raise AssertionError(f"not settled: {_statuses(daemon.data_dir)}")


def test_a_queued_send_whose_time_came_during_a_sigkill_is_sent_once(tmp_path):
    data_dir = tmp_path / "data"
    daemon = start_daemon(data_dir, config=CONFIG)
    try:
        queued, waiting, bob_token = _prepare(daemon, 1)
        before = _balance(daemon.base_url, bob_token)
    finally:
        daemon.kill()
        daemon.close()
    _time_has_come(data_dir)
    for _ in range(2):  # the second start finds nothing left to send
        with running_daemon(data_dir) as again:
            _wait_settled(again, queued)
            assert _statuses(data_dir)[queued[0]] == ("CONFIRMED", "1000")
            assert _statuses(data_dir)[waiting][0] == "EXPIRED"
            assert _balance(again.base_url, bob_token) == before + 1000


def test_sigkills_while_queued_sends_run_never_send_one_twice(tmp_path):
    data_dir = tmp_path / "data"
    daemon = start_daemon(data_dir, config=CONFIG)
    try:
        queued, _, bob_token = _prepare(daemon, 12)
        before = _balance(daemon.base_url, bob_token)
    finally:
        daemon.kill()
        daemon.close()
    _time_has_come(data_dir)
    rng = random.Random(7)
    for _ in range(3):
        # Killed at a random moment soon after it starts running them.
        killed = start_daemon(data_dir)
        time.sleep(rng.uniform(0, 0.05))
        killed.kill()
        killed.close()
    with running_daemon(data_dir) as last:
        _wait_settled(last, queued)
        statuses = _statuses(data_dir)
        confirmed = [int(statuses[i][1]) for i in queued if statuses[i][0] == "CONFIRMED"]
        assert confirmed, statuses
        # Every lamport bob received belongs to exactly one CONFIRMED record.
        assert _balance(last.base_url, bob_token) == before + sum(confirmed)
