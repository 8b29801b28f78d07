"""The chain's JSON-RPC node gone and back under a real daemon: the workers wait and resume.

The node is the LiteSVM-backed fake of tests/daemon, served over loopback HTTP;
"gone" is every request answered 503. While it is away ``/health`` says
``degraded`` naming the worker that needs it; once it is back a send queued
before the outage is sent exactly once (it stays QUEUED meanwhile, never
FAILED), and a send whose outcome stayed unknown is settled by the settlement
worker without anyone reading it, as the very transaction that was signed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from starlette.requests import Request
from starlette.responses import Response

from tests.daemon.fake_rpc_node import FakeSolanaNode, ThreadedNode
from tests.faults.support import wait_until
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon

pytestmark = pytest.mark.slow

SOL = 1_000_000_000
AMOUNT = 10_000_000
DELAY = 2


class SwitchedNode(FakeSolanaNode):
    """The fake node with a switch: while ``down``, every request is answered 503.

    ``down_at``: the node goes down when a request for this method arrives.
    """

    down = False
    down_at: str | None = None

    async def handle(self, request: Request) -> Response:
        if self.down_at is not None and (await request.json()).get("method") == self.down_at:
            self.down, self.down_at = True, None
        if self.down:
            return Response("Service Unavailable", status_code=503, media_type="text/plain")
        return await super().handle(request)


@pytest.fixture
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode(SwitchedNode()) as running:
        yield running


def switch(node: ThreadedNode, down: bool) -> None:
    def flip() -> None:
        node.node.down = down  # type: ignore[attr-defined]

    node.call(flip)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def health(daemon: Daemon) -> dict[str, Any]:
    with daemon.client() as http:
        return dict(http.get("/health").json())


def failing(daemon: Daemon) -> dict[str, dict[str, Any]]:
    return {f["worker"]: f for f in health(daemon)["failing"]}


def setup_wallet(daemon: Daemon, node: ThreadedNode, policy: dict[str, Any]) -> str:
    wallet = daemon.create_wallet()
    node.call(lambda: node.node.fund(Pubkey.from_string(wallet["address"]), 10 * SOL))
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    return str(daemon.create_session(wallet["id"])["token"])


def send(daemon: Daemon, token: str, to: str) -> dict[str, Any]:
    with httpx.Client(base_url=daemon.base_url, timeout=60) as http:
        response = http.post(
            "/v1/transactions/send", json={"to": to, "amount": str(AMOUNT)}, headers=bearer(token)
        )
    assert response.status_code in (201, 202), response.text
    return dict(response.json())


def listed_status(daemon: Daemon, token: str, tx_id: str) -> str:
    """The status in the list (which does not ask the chain), not the single read (which does)."""
    with daemon.client() as http:
        items = http.get("/v1/transactions", headers=bearer(token)).json()["items"]
    return str(next(t["status"] for t in items if t["id"] == tx_id))


def config(node: ThreadedNode) -> dict[str, Any]:
    return {"solana": {"network": "devnet", "rpc_url": node.url}, "security": FAST_SECURITY}


def test_a_queued_send_waits_out_a_node_outage_and_is_sent_once(tmp_path, node):
    with running_daemon(tmp_path / "d", config=config(node), timeout=90) as daemon:
        policy = {"instantMax": "1", "delayMax": str(100 * SOL), "delaySeconds": DELAY}
        token = setup_wallet(daemon, node, policy)
        to = str(Keypair().pubkey())
        queued = send(daemon, token, to)
        assert queued["status"] == "QUEUED"
        switch(node, down=True)

        # Its time comes while the node is away: the scheduler says so, the send waits.
        trouble = wait_until(lambda: failing(daemon).get("scheduler"), what="scheduler failing")
        assert trouble["error"] == "CHAIN_ERROR" and trouble["since"] <= time.time() + 1
        assert health(daemon)["status"] == "degraded"
        # Waiting (QUEUED, or PENDING while a try is under way), never FAILED.
        assert listed_status(daemon, token, queued["id"]) in ("QUEUED", "PENDING")

        switch(node, down=False)
        wait_until(lambda: listed_status(daemon, token, queued["id"]) == "CONFIRMED", what="sent")
        wait_until(lambda: health(daemon)["status"] == "ok", what="ok again")
        assert node.balance(to) == AMOUNT
        assert len(node.call(lambda: node.node.calls("sendTransaction"))) == 1
        daemon.stop()
    assert "Traceback" not in daemon.log, daemon.log
    assert daemon.log.count("scheduler: failing") == 1, daemon.log


def test_a_send_whose_outcome_stayed_unknown_is_settled_once_the_node_is_back(tmp_path, node):
    with running_daemon(tmp_path / "d", config=config(node), timeout=90) as daemon:
        token = setup_wallet(daemon, node, {})
        to = str(Keypair().pubkey())
        # The node goes away at the submit: the send is SUBMITTED with an unknown
        # outcome (as far as the daemon knows, it may have landed).

        def down_at_submit() -> None:
            node.node.down_at = "sendTransaction"  # type: ignore[attr-defined]

        node.call(down_at_submit)
        sent = send(daemon, token, to)
        assert sent["status"] == "SUBMITTED", sent
        trouble = wait_until(lambda: failing(daemon).get("settlement"), what="settlement failing")
        assert trouble["error"] == "CHAIN_ERROR"
        switch(node, down=False)

        wait_until(
            lambda: listed_status(daemon, token, sent["id"]) == "CONFIRMED",
            what="settled in the background",
        )
        wait_until(lambda: health(daemon)["status"] == "ok", what="ok again")
        assert node.balance(to) == AMOUNT
        landed = {c["params"][0] for c in node.call(lambda: node.node.calls("sendTransaction"))}
        assert len(landed) == 1  # the very bytes signed first, never a second transaction
        daemon.stop()
    assert "Traceback" not in daemon.log, daemon.log
