"""The database gone and back under a real daemon: every background worker resumes by itself.

PostgreSQL: the test's own cluster (``postgres_alone``) is stopped and started,
or restarted with ``pg_ctl restart``, under a daemon using it. While it is away
``/health`` says ``degraded`` naming the failing workers, requests answer 503
``STORAGE_UNAVAILABLE`` with ``Retry-After`` and no traceback; once it is back a
send queued before the outage is sent exactly once, each notification arrives
once, ``/mcp`` answers, and ``/health`` is ``ok`` again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from tests.daemon.fake_rpc_node import Hook, ThreadedNode
from tests.faults.support import WebhookCounter, wait_until
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon, start_daemon
from waiaas_daemon.domain.workers import MAX_BACKOFF

pytestmark = pytest.mark.slow

SOL = 1_000_000_000
AMOUNT = 10_000_000
DELAY = 2  # seconds a DELAY-tier send waits (policy delaySeconds)


@pytest.fixture
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode() as running:
        yield running


@pytest.fixture
def webhook() -> Iterator[WebhookCounter]:
    receiver = WebhookCounter()
    try:
        yield receiver
    finally:
        receiver.close()


def pg_config(url: str, node: ThreadedNode, webhook: WebhookCounter) -> dict[str, Any]:
    return {
        "storage": {"url": url},
        "solana": {"network": "devnet", "rpc_url": node.url},
        "security": FAST_SECURITY,
        "notifications": {"webhook_url": webhook.url},
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def health(daemon: Daemon) -> dict[str, Any]:
    with daemon.client() as http:
        response = http.get("/health")
    assert response.status_code == 200, response.text
    return response.json()


def mcp_balance(daemon: Daemon, token: str) -> httpx.Response:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "get_balance", "arguments": {}},
    }
    headers = {**bearer(token), "Accept": "application/json, text/event-stream"}
    with daemon.client() as http:
        return http.post("/mcp", json=body, headers=headers)


def assert_mcp_works(daemon: Daemon, token: str) -> None:
    response = mcp_balance(daemon, token)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    assert int(json.loads(result["content"][0]["text"])["balance"]) > 0


def queue_a_send(daemon: Daemon, node: ThreadedNode) -> tuple[dict[str, Any], str, str]:
    """A funded wallet with a DELAY policy, a session, and one send QUEUED: (session, tx, to)."""
    wallet = daemon.create_wallet()
    node.call(lambda: node.node.fund(Pubkey.from_string(wallet["address"]), 10 * SOL))
    policy = {"instantMax": "1", "delayMax": str(100 * SOL), "delaySeconds": DELAY}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    session = daemon.create_session(wallet["id"])
    to = str(Keypair().pubkey())
    with daemon.client() as http:
        queued = http.post(
            "/v1/transactions/send",
            json={"to": to, "amount": str(AMOUNT)},
            headers=bearer(session["token"]),
        )
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "QUEUED"
    return session, queued.json()["id"], to


def status_of(daemon: Daemon, token: str, tx_id: str) -> str | None:
    """The transaction's status, or None while the daemon answers 503."""
    with daemon.client() as http:
        response = http.get(f"/v1/transactions/{tx_id}", headers=bearer(token))
    if response.status_code == 503:
        return None
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def sent_once(node: ThreadedNode, to: str) -> None:
    """The recipient got the amount once, from one signed transaction sent once."""
    assert node.balance(to) == AMOUNT
    sent = node.call(lambda: node.node.calls("sendTransaction"))
    assert len(sent) == 1, sent


def test_postgres_gone_and_back_every_worker_resumes_and_nothing_runs_twice(
    tmp_path, postgres_alone, node, webhook
):
    url = postgres_alone.create_database()
    with running_daemon(tmp_path / "d", config=pg_config(url, node, webhook), timeout=90) as daemon:
        session, tx_id, to = queue_a_send(daemon, node)
        token = session["token"]
        assert_mcp_works(daemon, token)
        assert health(daemon)["status"] == "ok"
        wait_until(lambda: webhook.of_type("tx_queued"), what="the queued send's notification")

        postgres_alone.stop_server()
        # Shared-database workers look every second: they find it gone and say so.
        wanted = {"storage", "scheduler", "notifications", "settlement"}

        def degraded() -> dict[str, Any] | None:
            h = health(daemon)
            named = {f["worker"] for f in h["failing"]}
            return h if h["status"] == "degraded" and wanted <= named else None

        failing = {f["worker"]: f for f in wait_until(degraded, what=str(wanted))["failing"]}
        assert all(f["since"] <= time.time() + 1 and f["failures"] >= 1 for f in failing.values())

        with daemon.client() as http:
            refused = http.get("/v1/wallet/balance", headers=bearer(token))
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "STORAGE_UNAVAILABLE"
        assert refused.json()["retryable"] is True
        assert int(refused.headers["Retry-After"]) > 0
        refused_mcp = mcp_balance(daemon, token)
        assert refused_mcp.status_code == 503, refused_mcp.text

        # The send's time comes while the database is away.
        queued_at = time.time()
        wait_until(lambda: time.time() > queued_at + DELAY, what="the send's time")
        postgres_alone.start_server()

        # A worker that failed through the outage retries after at most MAX_BACKOFF (60 s):
        # the send is due by then plus its own work, however long the outage was.
        wait_until(
            lambda: status_of(daemon, token, tx_id) == "CONFIRMED",
            timeout=MAX_BACKOFF + 60,
            what="the send",
        )
        wait_until(lambda: health(daemon)["status"] == "ok", what="ok again")
        sent_once(node, to)
        assert_mcp_works(daemon, token)
        tested = daemon.api("POST", "/v1/admin/notifications/test")
        assert tested.status_code in (200, 201, 202), tested.text
        wait_until(lambda: webhook.of_type("test"), what="the test notification")
        daemon.stop()
        assert webhook.of_type("tx_queued") == [1]
        assert webhook.of_type("test") == [1]

    log = daemon.log
    assert "Traceback" not in log, log
    # One line when the outage starts and one when the database is back.
    assert log.count("the database is unavailable") == 1, log
    assert log.count("the database is back") == 1, log


def test_a_send_whose_signing_the_database_outage_cut_off_is_sent_once_when_it_is_back(
    tmp_path, postgres_alone, node, webhook
):
    # The window the restart test hits by chance, every time: the queued send comes
    # due, is claimed and signed, and the database stops before the signature is
    # stored. Nothing reached the node; once the database is back the send is put
    # back in the queue and signed again: the same record, the same blockhash (this
    # node makes no block while nothing lands), so the same signature. The daemon
    # once waited for a new blockhash on every retry and the send stayed QUEUED.
    url = postgres_alone.create_database()
    with running_daemon(tmp_path / "d", config=pg_config(url, node, webhook), timeout=90) as daemon:
        session, tx_id, to = queue_a_send(daemon, node)
        token = session["token"]
        node.call(lambda: node.node.fail("getLatestBlockhash", Hook(postgres_alone.stop_server)))
        wait_until(
            lambda: node.call(lambda: node.node.calls("getLatestBlockhash")), what="the signing"
        )
        wait_until(
            lambda: "scheduler" in {f["worker"] for f in health(daemon)["failing"]},
            what="the scheduler failing",
        )
        postgres_alone.start_server()

        wait_until(
            lambda: status_of(daemon, token, tx_id) == "CONFIRMED",
            timeout=MAX_BACKOFF,
            what="the send",
        )
        sent_once(node, to)
        wait_until(lambda: health(daemon)["status"] == "ok", what="ok")
        daemon.stop()
    assert "Traceback" not in daemon.log, daemon.log


def test_pg_ctl_restart_leaves_no_worker_stopped(tmp_path, postgres_alone, node, webhook):
    # The case: a restart between two polls. The queued send is due after it.
    url = postgres_alone.create_database()
    with running_daemon(tmp_path / "d", config=pg_config(url, node, webhook), timeout=90) as daemon:
        session, tx_id, to = queue_a_send(daemon, node)
        token = session["token"]
        assert_mcp_works(daemon, token)
        postgres_alone.restart()

        # A worker that failed through the outage retries after at most MAX_BACKOFF (60 s):
        # the send is due by then plus its own work, however long the outage was.
        wait_until(
            lambda: status_of(daemon, token, tx_id) == "CONFIRMED",
            timeout=MAX_BACKOFF + 60,
            what="the send",
        )
        sent_once(node, to)
        assert_mcp_works(daemon, token)
        tested = daemon.api("POST", "/v1/admin/notifications/test")
        assert tested.status_code in (200, 201, 202), tested.text
        wait_until(lambda: webhook.of_type("test"), what="the test notification")
        wait_until(lambda: health(daemon)["status"] == "ok", what="ok")
        daemon.stop()
        assert webhook.of_type("test") == [1]
    assert "Traceback" not in daemon.log, daemon.log


@pytest.mark.anyio
async def test_the_telegram_poller_takes_its_role_again_after_postgres_comes_back(
    tmp_path, postgres_alone
):
    from tests.daemon.fake_telegram import TOKEN, fake_telegram
    from tests.daemon.test_telegram_live import blocking

    url = postgres_alone.create_database()
    async with fake_telegram() as telegram:
        node = ThreadedNode()
        await blocking(node.__enter__)
        sections = {
            "storage": {"url": url},
            "solana": {"network": "devnet", "rpc_url": node.url},
            "security": FAST_SECURITY,
            "notifications": {"telegram_bot_token": TOKEN, "telegram_api_url": telegram.url},
        }
        daemon = await blocking(lambda: start_daemon(tmp_path / "d", config=sections, timeout=90))
        try:
            answer = await blocking(lambda: daemon.api("POST", "/v1/telegram/link"))
            assert answer.status_code == 201, answer.text
            telegram.message(answer.json()["send"])
            await telegram.wait_for(lambda: any("Linked" in s.text for s in telegram.to()), 60)

            await blocking(postgres_alone.stop_server)
            with anyio.fail_after(60):
                while "telegram" not in {
                    f["worker"] for f in (await blocking(health, daemon))["failing"]
                }:
                    await anyio.sleep(0.05)
            await blocking(postgres_alone.start_server)

            telegram.message("/status")
            await telegram.wait_for(lambda: any("Kill switch" in s.text for s in telegram.to()), 60)
            with anyio.fail_after(60):
                while (await blocking(health, daemon))["status"] != "ok":
                    await anyio.sleep(0.05)
            assert telegram.conflicts == 0
        finally:
            await blocking(daemon.kill)
            await blocking(daemon.close)
            await blocking(node.__exit__, None, None, None)
    assert "Traceback" not in daemon.log, daemon.log
    assert TOKEN not in daemon.log
