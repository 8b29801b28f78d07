"""Several real daemons on one PostgreSQL database and one JSON-RPC node.

The node is the real `waiaas-daemon local-node` (tests/support/local_node.py), as
docs/operations.md shows it; the tests that need a node to stall or slow down on
purpose use the fake one (tests/daemon/fake_rpc_node.py) instead (``fake_node``).

Every guarantee of one daemon must hold across them: one renewal winner,
sessions never over the limit, one owner decision, a daily limit never
passed by parallel sends through different daemons, queued sends executed
once even when a daemon is SIGKILLed holding one, one audit chain.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import Delay, Stall, ThreadedNode
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from tests.support.local_node import LocalNode, running_local_node
from waiaas_core.tokens import decode_unverified

pytestmark = pytest.mark.slow

SOL = 1_000_000_000
AMOUNT = 10_000_000  # above the rent-exempt minimum of a new recipient


def wait_until(predicate: Callable[[], Any], timeout: float = 60, what: str = "") -> Any:
    """Poll a condition of another process, bounded: never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


Node = LocalNode | ThreadedNode


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    """The real local node, in its own ledger file."""
    with running_local_node(tmp_path / "local-node.db") as running:
        yield running


@pytest.fixture
def fake_node() -> Iterator[ThreadedNode]:
    """The fake node, for tests that make the node slow or stall on purpose."""
    with ThreadedNode() as running:
        yield running


def config(postgres_url: str, node: Node, **solana: Any) -> dict[str, Any]:
    # The real node is a local chain over JSON-RPC (docs/operations.md); the fake, devnet.
    network = "local" if isinstance(node, LocalNode) else "devnet"
    return {
        "storage": {"url": postgres_url},
        "solana": {"network": network, "rpc_url": node.url, **solana},
        "security": {**FAST_SECURITY, "max_sessions_per_wallet": 3},
    }


@contextlib.contextmanager
def daemons(
    tmp_path: Path, postgres_url: str, node: Node, count: int, **solana: Any
) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    try:
        for n in range(count):
            started.append(
                start_daemon(tmp_path / f"d{n}", config=config(postgres_url, node, **solana))
            )
        yield started
    finally:
        for daemon in started:
            daemon.kill()
            daemon.close()


def funded_wallet(daemon: Daemon, node: Node, lamports: int = 10 * SOL) -> dict[str, Any]:
    wallet = daemon.create_wallet()
    fund(node, wallet["address"], lamports)
    return wallet


def fund(node: Node, address: str, lamports: int) -> None:
    """Lamports for ``address``: the real node's faucet (requestAirdrop), or the fake's."""
    if isinstance(node, LocalNode):
        node.airdrop(address, lamports)
    else:
        node.call(lambda: node.node.fund(Pubkey.from_string(address), lamports))


def bearer(session: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def send(daemon: Daemon, session: dict[str, Any], to: str, amount: int = AMOUNT) -> httpx.Response:
    with daemon.client() as http:
        return http.post(
            "/v1/transactions/send",
            json={"to": to, "amount": str(amount)},
            headers=bearer(session),
            timeout=60,
        )


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def statuses(daemon: Daemon, session: dict[str, Any]) -> dict[str, str]:
    with daemon.client() as http:
        listed = http.get("/v1/transactions", headers=bearer(session)).json()
    return {t["id"]: t["status"] for t in listed["items"]}


def audit_is_one_chain(daemon: Daemon) -> dict[str, Any]:
    verified = daemon.api("GET", "/v1/audit/verify")
    assert verified.status_code == 200, verified.text
    return verified.json()


def test_parallel_sends_through_two_daemons_never_pass_the_daily_limit(
    tmp_path, postgres_url, fake_node
):
    node = fake_node  # it slows getBalance down on purpose
    with daemons(tmp_path, postgres_url, node, 2) as (a, b):
        wallet = funded_wallet(a, node)
        policy = {"instantMax": str(100 * SOL), "dailyLimit": str(5 * AMOUNT)}
        assert a.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
        session = a.create_session(wallet["id"])  # its token works on b too: one JWT secret
        to = str(Keypair().pubkey())
        # A slow balance check sits between each send's decision and its record: without
        # one lock across the daemons, both would decide on the same totals.
        node.call(lambda: node.node.fail("getBalance", *[Delay(0.3)] * 12))
        answers = in_parallel([lambda d=d: send(d, session, to) for d in (a, b) * 6])
        passed = [r for r in answers if r.status_code in (200, 201)]
        # Over the daily limit a send waits for the owner (docs/policy.md).
        held = [r for r in answers if r.status_code == 202]
        assert len(passed) == 5 and len(held) == 7, [r.text for r in answers]
        assert all(r.json()["status"] == "PENDING_APPROVAL" for r in held)
        assert all(r.json()["status"] == "CONFIRMED" for r in passed)
        assert node.balance(to) == 5 * AMOUNT
        assert audit_is_one_chain(b)["ok"] is True


def test_parallel_renewals_through_three_daemons_have_one_winner(tmp_path, postgres_url, node):
    with daemons(tmp_path, postgres_url, node, 3) as running:
        wallet = running[0].create_wallet()
        session = running[0].create_session(wallet["id"], expiresIn=10)
        # A token renews after half its TTL, on the daemons' own clocks; the other
        # half (5 s) is the window for the renewals, ample on a loaded machine.
        halfway = decode_unverified(session["token"])["iat"] + 5
        wait_until(lambda: time.time() > halfway + 0.05, what="half the TTL")

        def renew(daemon: Daemon) -> httpx.Response:
            with daemon.client() as http:
                return http.put(f"/v1/sessions/{session['id']}/renew", headers=bearer(session))

        answers = in_parallel([lambda d=d: renew(d) for d in running * 3])
        won = [r for r in answers if r.status_code == 200]
        assert len(won) == 1, [r.text for r in answers]
        with running[2].client() as http:
            own = http.get("/v1/session", headers=bearer(won[0].json())).json()
        assert own["renewalCount"] == 1


def test_sessions_created_through_three_daemons_never_pass_the_limit(tmp_path, postgres_url, node):
    with daemons(tmp_path, postgres_url, node, 3) as running:
        wallet = running[0].create_wallet()

        def create(daemon: Daemon) -> int:
            return daemon.api("POST", "/v1/sessions", json={"walletId": wallet["id"]}).status_code

        codes = in_parallel([lambda d=d: create(d) for d in running * 3])
        assert codes.count(201) == 3 and len(codes) == 9, codes
        assert audit_is_one_chain(running[1]) == {
            "ok": True,
            "entries": audit_is_one_chain(running[1])["entries"],
            "firstBadSeq": None,
        }


def test_approve_on_one_daemon_and_reject_on_another_decide_once(tmp_path, postgres_url, node):
    with daemons(tmp_path, postgres_url, node, 2) as (a, b):
        wallet = funded_wallet(a, node)
        policy = {"instantMax": "1", "delayMax": "2"}  # anything larger waits for the owner
        assert a.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
        session = a.create_session(wallet["id"])
        to = str(Keypair().pubkey())
        decided = []
        for _ in range(4):
            held = send(a, session, to)
            assert held.status_code == 202 and held.json()["status"] == "PENDING_APPROVAL"
            tx_id = held.json()["id"]
            approve, reject = in_parallel(
                [
                    lambda tx_id=tx_id: a.api("POST", f"/v1/pending/{tx_id}/approve"),
                    lambda tx_id=tx_id: b.api("POST", f"/v1/pending/{tx_id}/reject", json={}),
                ]
            )
            codes = sorted([approve.status_code, reject.status_code])
            assert codes[0] == 200 and codes[1] == 409, (approve.text, reject.text)
            status = statuses(b, session)[tx_id]
            won = "approve" if approve.status_code == 200 else "reject"
            assert status == ("CONFIRMED" if won == "approve" else "REJECTED"), status
            decided.append(won)
        approved = decided.count("approve")
        assert node.balance(to) == approved * AMOUNT
        assert audit_is_one_chain(b)["ok"] is True


def test_a_daemon_killed_holding_a_claimed_queued_send_leaves_it_to_another_sent_once(
    tmp_path, postgres_url, fake_node
):
    node = fake_node  # it stalls sendTransaction on purpose
    # The first daemon stalls in sendTransaction with a claimed, signed queued send
    # (and the wallet's lock); the second is blocked on that lock until the first is
    # SIGKILLed, then finishes the orphan and runs the other queued sends.
    node.call(lambda: node.node.fail("sendTransaction", *[Stall()] * 50))
    with daemons(tmp_path, postgres_url, node, 1, rpc_timeout=120) as (a,):
        wallet = funded_wallet(a, node)
        # All three are queued before the first is due: once it is claimed and stalls,
        # it holds the wallet's lock, and a send made then would wait behind it.
        policy = {"instantMax": "1", "delayMax": str(100 * SOL), "delaySeconds": 5}
        assert a.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
        session = a.create_session(wallet["id"])
        to = str(Keypair().pubkey())
        # Different amounts: two equal transfers signed on one blockhash are one transaction.
        amounts = [AMOUNT + n for n in range(3)]
        queued = [send(a, session, to, amount) for amount in amounts]
        assert all(r.status_code == 202 for r in queued), [r.text for r in queued]
        wait_until(lambda: node.call(lambda: node.node.calls("sendTransaction")), what="a claim")
        with daemons(tmp_path / "b", postgres_url, node, 1) as (b,):
            a.kill()
            node.call(lambda: node.node._faults.clear())
            node.call(node.node.release)

            wait_until(
                lambda: list(statuses(b, session).values()) == ["CONFIRMED"] * 3,
                timeout=90,
                what="three confirmed sends",
            )
            assert node.balance(to) == sum(amounts)
            landed = {c["params"][0] for c in node.call(lambda: node.node.calls("sendTransaction"))}
            assert len(landed) == 3  # three distinct signed transactions, none signed twice
            entries = b.api("GET", "/v1/audit?limit=100").json()["items"]
            confirmed = [e["transactionId"] for e in entries if e["action"] == "send.confirmed"]
            assert sorted(confirmed) == sorted(r.json()["id"] for r in queued)
            assert audit_is_one_chain(b)["ok"] is True


def test_queued_sends_with_two_schedulers_run_once_each(tmp_path, postgres_url, node):
    with daemons(tmp_path, postgres_url, node, 2) as (a, b):
        wallet = funded_wallet(a, node)
        policy = {"instantMax": "1", "delayMax": str(100 * SOL), "delaySeconds": 1}
        assert a.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
        session = a.create_session(wallet["id"])
        to = str(Keypair().pubkey())
        amounts = [AMOUNT + n for n in range(6)]
        queued = [send((a, b)[n % 2], session, to, amount) for n, amount in enumerate(amounts)]
        assert all(r.status_code == 202 for r in queued), [r.text for r in queued]
        wait_until(
            lambda: list(statuses(a, session).values()) == ["CONFIRMED"] * 6,
            timeout=90,
            what="six confirmed sends",
        )
        assert node.balance(to) == sum(amounts)
        entries = b.api("GET", "/v1/audit?limit=100").json()["items"]
        confirmed = [e["transactionId"] for e in entries if e["action"] == "send.confirmed"]
        assert sorted(confirmed) == sorted(r.json()["id"] for r in queued)
        assert audit_is_one_chain(a)["ok"] is True


class SlowReceiver:
    """A webhook receiver in a thread: counts each event id, and overlapping deliveries of it."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.counts: dict[str, int] = {}
        self.overlaps = 0
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                event_id = self.headers.get("X-Waiaas-Event-Id", "")
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.counts[event_id] = receiver.counts.get(event_id, 0) + 1
                    receiver.overlaps += event_id in receiver._in_flight
                    receiver._in_flight.add(event_id)
                time.sleep(receiver.delay)  # a slow receiver: the other worker polls meanwhile
                with receiver._lock:
                    receiver._in_flight.discard(event_id)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_outbox_of_two_daemons_delivers_each_event_once(tmp_path, postgres_url, node):
    receiver = SlowReceiver(delay=1.5)
    try:
        sections = config(postgres_url, node)
        sections["notifications"] = {"webhook_url": receiver.url, "events": ["session_created"]}
        started = [start_daemon(tmp_path / name, config=sections) for name in ("a", "b")]
        try:
            a = started[0]
            wallets = [a.create_wallet(f"w{n}") for n in range(2)]
            for wallet in wallets:  # six events, all enqueued by a
                for _ in range(3):
                    a.create_session(wallet["id"])
            wait_until(lambda: len(receiver.counts) == 6, timeout=60, what="six deliveries")
            # b's worker polls while a's deliveries are in flight: leased rows are not its.
            for daemon in started:
                daemon.stop()
            assert sorted(receiver.counts.values()) == [1] * 6, receiver.counts
            assert receiver.overlaps == 0
        finally:
            for daemon in started:
                daemon.kill()
                daemon.close()
    finally:
        receiver.close()


def test_wrong_master_passwords_spread_over_two_daemons_lock_both(tmp_path, postgres_url, node):
    # Five failures in all (the default count), alternating: each daemon saw fewer
    # than five itself, yet both lock out, even for the right password.
    with daemons(tmp_path, postgres_url, node, 2) as running:
        wrong = {"X-Master-Password": "not the password at all"}
        for n in range(5):
            with running[n % 2].client() as http:
                assert http.get("/v1/wallets", headers=wrong).status_code == 401
        for daemon in running:
            answer = daemon.api("GET", "/v1/wallets")
            assert answer.status_code == 429, answer.text
            assert int(answer.headers["Retry-After"]) > 0


def test_the_operations_page_setup_two_daemons_share_wallets_and_the_local_node(
    tmp_path, postgres_url, node
):
    """docs/operations.md's one-machine setup: network local with rpc_url = the local node;
    an airdrop through one daemon's API is the node's faucet, seen through the other."""
    with daemons(tmp_path, postgres_url, node, 2) as (a, b):
        wallet = a.create_wallet("main")
        airdrop = a.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(SOL)})
        assert airdrop.status_code == 201, airdrop.text
        assert airdrop.json()["status"] == "CONFIRMED"
        assert node.balance(wallet["address"]) == SOL
        listed = b.api("GET", "/v1/wallets").json()["items"]
        assert [(w["id"], w["network"]) for w in listed] == [(wallet["id"], "local")]
        session = b.create_session(wallet["id"])
        with b.client() as http:
            balance = http.get("/v1/wallet/balance", headers=bearer(session)).json()
        assert balance["balance"] == str(SOL)
        to = str(Keypair().pubkey())
        assert send(b, session, to).status_code == 201
        assert node.balance(to) == AMOUNT
        [history] = node.rpc("getSignaturesForAddress", to)
        assert history["err"] is None and history["confirmationStatus"] == "finalized"
