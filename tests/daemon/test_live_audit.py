"""SPEC 13 against a real daemon: the audit log of a scripted day, its tamper check, signed
webhooks to a local receiver, deliveries across a restart, and the CLI's audit and notify."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support.daemon import FAST_SECURITY, PASSWORD, running_daemon

SOL = 1_000_000_000
SECRET = "whsec-test-0123456789"
POLICY = {
    "instantMax": "1000",
    "notifyMax": "2000",
    "delayMax": "3000",
    "delaySeconds": 3600,
    "approvalTimeout": 3600,
}


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append((dict(self.headers.items()), body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@contextmanager
def receiver(port: int = 0) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _config(url: str) -> dict[str, Any]:
    return {
        "security": {**FAST_SECURITY, "master_lockout_attempts": 3},
        "notifications": {"webhook_url": url, "webhook_secret": SECRET},
    }


def _events(server: Any) -> list[dict[str, Any]]:
    return [json.loads(body) for _, body in server.received]


def _wait(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _agent(daemon: Any, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _day(daemon: Any) -> dict[str, Any]:
    """Wallets, sessions, a send of every tier, a denial, an approval, a rejection, a lockout."""
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    airdrop = daemon.api("POST", f"/v1/wallets/{alice['id']}/airdrop", json={"amount": str(SOL)})
    assert airdrop.status_code == 201
    assert daemon.api("PUT", f"/v1/wallets/{alice['id']}/policy", json=POLICY).status_code == 200
    session = daemon.create_session(
        alice["id"], expiresIn=86400, constraints={"maxAmountPerTx": "5000"}
    )
    ids: dict[str, str] = {}
    with _agent(daemon, session["token"]) as agent:
        for tier, amount in (("INSTANT", 500), ("NOTIFY", 1500), ("DELAY", 2500)):
            sent = agent.post(
                "/v1/transactions/send", json={"to": bob["address"], "amount": str(amount)}
            )
            assert sent.status_code in (200, 201, 202), sent.text
            ids[tier] = sent.json()["id"]
        for name in ("approve", "reject"):
            sent = agent.post(
                "/v1/transactions/send", json={"to": bob["address"], "amount": "4000"}
            )
            assert sent.json()["status"] == "PENDING_APPROVAL", sent.text
            ids[name] = sent.json()["id"]
        denied = agent.post("/v1/transactions/send", json={"to": bob["address"], "amount": "9000"})
        assert denied.status_code == 403, denied.text
    assert daemon.api("POST", f"/v1/pending/{ids['approve']}/approve").status_code == 200
    assert daemon.api("POST", f"/v1/pending/{ids['reject']}/reject", json={}).status_code == 200
    for _ in range(3):
        wrong = daemon.api("GET", "/v1/admin/status", headers={"X-Master-Password": "wrong-pw!"})
        assert wrong.status_code == 401
    return {"alice": alice, "bob": bob, "session": session, "ids": ids}


def _audit(daemon: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        page = daemon.api("GET", "/v1/audit", params=params)
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["cursor"]
        if cursor is None:
            return items


def test_a_scripted_day_is_logged_in_order_verified_and_tampering_is_found(tmp_path):
    with receiver() as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        with running_daemon(tmp_path, config=_config(url)) as daemon:
            day = _day(daemon)
            _wait(lambda: any(e["type"] == "master_lockout" for e in _events(hook)))
            session_token = day["session"]["token"]
            daemon.stop()
        # The lockout is persisted (5 minutes): lifted in the stopped daemon's file.
        with sqlite3.connect(tmp_path / "waiaas.db") as db:
            db.execute("DELETE FROM master_lockout")
        with running_daemon(tmp_path, config=_config(url)) as daemon:
            entries = list(reversed(_audit(daemon)))
            assert daemon.api("GET", "/v1/audit/verify").json() == {
                "ok": True,
                "entries": len(entries),
                "firstBadSeq": None,
            }
    actions = [e["action"] for e in entries]
    expected = [
        "wallet.create",
        "wallet.create",
        "policy.set",
        "session.create",
        "send.allowed",
        "send.allowed",
        "send.queued",
        "send.pending",
        "send.pending",
        "send.denied",
        "pending.approve",
        "pending.reject",
        "master.failure",
        "master.failure",
        "master.failure",
        "master.lockout",
    ]
    it = iter(actions)
    assert all(a in it for a in expected), actions  # each step, in this order
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    # No secret anywhere in the database file: password, tokens, webhook secret, keys.
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("waiaas.db*"))
    for secret in (PASSWORD, session_token, SECRET, "wrong-pw!"):
        assert secret.encode() not in raw, secret[:6]
    # Edit one row, then delete another: verify names the first bad seq each time.
    with sqlite3.connect(tmp_path / "waiaas.db") as db:
        db.execute('UPDATE audit_log SET details = \'{"amount":"1"}\' WHERE seq = 5')
    with running_daemon(tmp_path, config=_config(url)) as daemon:
        assert daemon.api("GET", "/v1/audit/verify").json()["firstBadSeq"] == 5
        daemon.stop()
    with sqlite3.connect(tmp_path / "waiaas.db") as db:
        db.execute("DELETE FROM audit_log WHERE seq = 3")
    with running_daemon(tmp_path, config=_config(url)) as daemon:
        assert daemon.api("GET", "/v1/audit/verify").json()["firstBadSeq"] == 3


def test_an_approval_required_webhook_is_signed_with_the_secret(tmp_path):
    with receiver() as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        with running_daemon(tmp_path, config=_config(url)) as daemon:
            alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
            daemon.api("POST", f"/v1/wallets/{alice['id']}/airdrop", json={"amount": str(SOL)})
            daemon.api("PUT", f"/v1/wallets/{alice['id']}/policy", json=POLICY)
            token = daemon.create_session(alice["id"])["token"]
            with _agent(daemon, token) as agent:
                sent = agent.post(
                    "/v1/transactions/send", json={"to": bob["address"], "amount": "4000"}
                )
            tx_id = sent.json()["id"]

            def approval() -> Any:
                return [
                    (h, b) for h, b in hook.received if json.loads(b)["type"] == "approval_required"
                ]

            [(headers, body)] = _wait(approval)
    headers = {k.lower(): v for k, v in headers.items()}
    stamp, _, mac = headers["x-waiaas-signature"].partition(",v1=")
    t = stamp.removeprefix("t=")
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(mac, expected)
    event = json.loads(body)
    assert headers["x-waiaas-event-id"] == event["id"]
    assert event["walletId"] == alice["id"] and event["data"]["transactionId"] == tx_id


def test_a_restart_while_the_receiver_is_down_loses_no_event(tmp_path):
    with receiver() as probe:
        port = probe.server_address[1]  # a free port, closed again below
    url = f"http://127.0.0.1:{port}/hook"
    with running_daemon(tmp_path, config=_config(url)) as daemon:
        wallet = daemon.create_wallet("alice")
        for _ in range(3):
            daemon.create_session(wallet["id"])
        assert (
            daemon.api("POST", "/v1/admin/kill-switch", json={"reason": "drill"}).status_code == 200
        )
        daemon.stop()
    with receiver(port) as hook, running_daemon(tmp_path, config=_config(url)) as daemon:
        types = _wait(
            lambda: (
                (t := sorted(e["type"] for e in _events(hook))).count("session_created") == 3
                and "kill_switch" in t
                and t
            )
        )
        assert types.count("kill_switch") == 1
        listed = daemon.api("GET", "/v1/admin/notifications").json()
        assert SECRET not in json.dumps(listed) and listed["settings"]["webhookSecretSet"] is True


def _cli(daemon: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WAIAAS_MASTER_PASSWORD": daemon.password}
    return subprocess.run(
        [sys.executable, "-m", "waiaas_cli", *args, "--base-url", daemon.base_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_the_cli_reads_the_audit_log_verifies_it_and_sends_a_test(tmp_path):
    with receiver() as hook:
        url = f"http://127.0.0.1:{hook.server_address[1]}/hook"
        with running_daemon(tmp_path, config=_config(url)) as daemon:
            daemon.create_wallet("alice")
            listed = _cli(daemon, "audit", "--json")
            assert listed.returncode == 0, listed.stderr
            assert [e["action"] for e in json.loads(listed.stdout)] == ["wallet.create"]
            verified = _cli(daemon, "audit", "verify")
            assert verified.returncode == 0 and "1 entries" in verified.stdout, verified.stderr
            tested = _cli(daemon, "notify", "test")
            assert tested.returncode == 0, tested.stderr
            _wait(lambda: any(e["type"] == "test" for e in _events(hook)))
    with running_daemon(tmp_path / "bare") as daemon:
        refused = _cli(daemon, "notify", "test")
        assert refused.returncode != 0 and "no channel is configured" in refused.stderr
