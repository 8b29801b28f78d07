"""The daemon's own log: one line each when money moves or waits, never a secret, and
no library noise per MCP call (read from a real `waiaas-daemon serve`'s stderr)."""

from __future__ import annotations

import pytest

from tests.mcp.test_remote_http import http_client
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000


def _lines(daemon: Daemon, needle: str) -> list[str]:
    return [
        line for line in daemon.stderr_lines if "waiaas_daemon.money" in line and needle in line
    ]


async def test_sends_waits_decisions_and_the_kill_switch_are_one_line_each(daemon: Daemon):
    wallet = daemon.create_wallet("main")
    payee = daemon.create_wallet("payee")["address"]
    assert (
        daemon.api(
            "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(2 * SOL)}
        ).status_code
        == 201
    )
    policy = {"instantMax": str(SOL // 10)}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    session = daemon.create_session(wallet["id"], label="claude")
    bearer = {"Authorization": f"Bearer {session['token']}"}
    with daemon.client(headers=bearer) as agent:
        sent = agent.post("/v1/transactions/send", json={"to": payee, "amount": str(SOL // 20)})
        assert sent.status_code == 201, sent.text
        held = agent.post("/v1/transactions/send", json={"to": payee, "amount": str(SOL // 2)})
        assert held.status_code == 202, held.text
        other = agent.post("/v1/transactions/send", json={"to": payee, "amount": str(SOL // 2)})
        assert other.status_code == 202, other.text
    approved = daemon.api("POST", f"/v1/pending/{held.json()['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    rejected = daemon.api("POST", f"/v1/pending/{other.json()['id']}/reject", json={"reason": "no"})
    assert rejected.status_code == 200, rejected.text
    assert daemon.api("POST", "/v1/admin/kill-switch", json={"reason": "drill"}).status_code == 200
    assert daemon.api("DELETE", "/v1/admin/kill-switch").status_code == 200
    async with http_client(daemon.base_url, session["token"]) as client:
        for _ in range(3):
            await client.call_tool("get_balance", {})
    daemon.stop()

    instant, first, second = (t.json()["id"][:8] for t in (sent, held, other))
    head = "(wallet main, agent claude): "
    expected = [
        f"send {instant} {head}0.05 SOL to {payee}: allowed (INSTANT), sending",
        f"send {instant} {head}0.05 SOL to {payee}: confirmed on chain, signature ",
        f"send {first} {head}0.5 SOL to {payee}: waits for the owner's approval (APPROVAL)",
        f"send {second} {head}0.5 SOL to {payee}: waits for the owner's approval (APPROVAL)",
        f"send {first} {head}0.5 SOL to {payee}: approved by owner",
        f"send {first} {head}0.5 SOL to {payee}: confirmed on chain, signature ",
        f"send {second} {head}0.5 SOL to {payee}: rejected by owner: no",
        "kill switch ON: every send stops (drill)",
        "kill switch off: sends may resume",
    ]
    said = [line.split("waiaas_daemon.money: ", 1)[1] for line in _lines(daemon, "")]
    assert len(said) == len(expected), said
    for line, start in zip(said, expected, strict=True):
        assert line.startswith(start), (line, start)
    log = daemon.log
    assert "Terminating session" not in log
    assert session["token"] not in log and daemon.password not in log
    assert "wai_sess_" not in log
