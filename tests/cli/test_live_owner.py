"""The owner's commands against a real `waiaas-daemon serve`: policy, pending, decisions,
suspension, the kill switch and the status that shows it (SPEC 10, 12, 13).

The fake-daemon tests check what each command sends; these check that the real routes
take it and that what the commands print is what the daemon answered.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.cli.checks import assert_one_line_error, ok
from tests.support.daemon import Daemon

pytestmark = pytest.mark.slow

SOL = 1_000_000_000


def agent(daemon: Daemon, wallet_id: str) -> httpx.Client:
    token = daemon.create_session(wallet_id, expiresIn=600)["token"]
    return daemon.client(headers={"Authorization": f"Bearer {token}"})


def funded(daemon: Daemon, name: str = "main", lamports: int = 2 * SOL) -> dict[str, Any]:
    wallet = daemon.create_wallet(name)
    airdrop = {"amount": str(lamports)}
    response = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=airdrop)
    assert response.status_code == 201, response.text
    return wallet


def put_policy(daemon: Daemon, wallet_id: str, document: dict[str, Any]) -> None:
    response = daemon.api("PUT", f"/v1/wallets/{wallet_id}/policy", json=document)
    assert response.status_code == 200, response.text


def test_policy_set_show_and_clear_carry_lamports_typed_as_sol(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    recipient = daemon.create_wallet("shop")["address"]
    out = ok(
        waiaas(
            "policy",
            "set",
            "main",
            "--instant-max",
            "0.1",
            "--notify-max",
            "1",
            "--delay-max",
            "5.5",
            "--delay",
            "15m",
            "--approval-timeout",
            "1h",
            "--daily-limit",
            "10",
            "--monthly-limit",
            "100.000000001",
            "--allow-recipient",
            recipient,
            "--max-sends-per-hour",
            "60",
        )
    )
    assert "Version: 1" in out
    stored = daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()
    assert stored["version"] == 1
    assert stored["policy"] == {
        "instantMax": "100000000",
        "notifyMax": "1000000000",
        "delayMax": "5500000000",
        "delaySeconds": 900,
        "approvalTimeout": 3600,
        "dailyLimit": "10000000000",
        "monthlyLimit": "100000000001",
        "allowedRecipients": [recipient],
        "maxSendsPerHour": 60,
    }

    # A second set changes only what it names: the GET-modify-PUT round trip is accepted.
    ok(waiaas("policy", "set", wallet["id"], "--instant-max", "0.2"))
    stored = daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()
    assert stored["version"] == 2
    assert stored["policy"]["instantMax"] == "200000000"
    assert stored["policy"]["dailyLimit"] == "10000000000"

    shown = ok(waiaas("policy", "show", "main"))
    assert "sent at once up to: 0.2 SOL  (instantMax)" in shown
    assert "delay before a DELAY-tier send: 15m" in shown
    assert "100.000000001 SOL" in shown
    assert json.loads(ok(waiaas("policy", "show", "main", "--json"))) == stored

    cleared = ok(waiaas("policy", "clear", "main"))
    assert "version 3" in cleared
    stored = daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()
    assert stored["policy"] == {} and stored["version"] == 3
    assert "Rules:   none" in ok(waiaas("policy", "show", "main"))


def test_policy_set_from_a_file_then_a_flag_keeps_every_rule_of_the_file(waiaas, daemon, tmp_path):
    wallet = daemon.create_wallet("main")
    mint = daemon.create_wallet("mint")["address"]  # any 32-byte address stands for a mint
    document = {
        "instantMax": "5",
        "autoSuspendAfterDenials": 3,
        "tokens": {mint: {"instantMax": "7", "dailyLimit": "70"}},
        "allowedTokens": [mint],
    }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    ok(waiaas("policy", "set", "main", "--file", str(path)))
    # The next set GETs what the daemon stored and PUTs it back with one change.
    shown = ok(waiaas("policy", "set", "main", "--delay", "90s"))
    # A token outside the registry is shown in base units, with its rule's path.
    assert f"7 base units of {mint} (not in the registry)  (tokens.{mint}.instantMax)" in shown
    stored = daemon.api("GET", f"/v1/wallets/{wallet['id']}/policy").json()
    assert stored["version"] == 2 and stored["policy"] == document | {"delaySeconds": 90}


def test_policy_set_that_the_daemon_refuses_names_the_field_in_one_line(waiaas, daemon):
    daemon.create_wallet("main")
    refused = waiaas("policy", "set", "main", "--instant-max", "2", "--notify-max", "1")
    assert_one_line_error(refused, "notifyMax")


def test_pending_lists_a_waiting_send_and_approve_sends_it(waiaas, daemon):
    wallet = funded(daemon)
    shop = daemon.create_wallet("shop")
    put_policy(daemon, wallet["id"], {"instantMax": "1000"})
    with agent(daemon, wallet["id"]) as http:
        sent = http.post("/v1/transactions/send", json={"to": shop["address"], "amount": "5000"})
    assert sent.status_code == 202, sent.text
    tx_id = sent.json()["id"]

    listed = ok(waiaas("pending"))
    assert tx_id in listed and "PENDING_APPROVAL" in listed
    assert "0.000005 SOL" in listed and "expires 20" in listed
    [item] = json.loads(ok(waiaas("pending", "--json")))
    assert item["id"] == tx_id and item["amount"] == "5000"

    approved = ok(waiaas("approve", tx_id))
    assert f"Approved {tx_id}: 0.000005 SOL to {shop['address']}" in approved
    assert "Signature: " in approved
    assert "Nothing is waiting." in ok(waiaas("pending"))
    again = waiaas("approve", tx_id)
    assert_one_line_error(again, "TRANSACTION_NOT_PENDING")


def test_reject_with_a_reason_stores_it_and_nothing_is_sent(waiaas, daemon):
    wallet = funded(daemon)
    shop = daemon.create_wallet("shop")
    put_policy(daemon, wallet["id"], {"instantMax": "1000"})
    with agent(daemon, wallet["id"]) as http:
        sent = http.post("/v1/transactions/send", json={"to": shop["address"], "amount": "5000"})
        tx_id = sent.json()["id"]
        rejected = ok(waiaas("reject", tx_id, "--reason", "not this shop"))
        record = http.get(f"/v1/transactions/{tx_id}").json()
    assert "Status: REJECTED" in rejected
    assert record["status"] == "REJECTED" and record["reason"] == "not this shop"
    assert record["signature"] is None


def test_wallet_suspend_stops_its_sends_and_resume_lets_them_go(waiaas, daemon):
    wallet = funded(daemon)
    shop = daemon.create_wallet("shop")
    send = {"to": shop["address"], "amount": "5000"}
    with agent(daemon, wallet["id"]) as http:
        suspended = ok(waiaas("wallet", "suspend", "main", "--reason", "odd activity"))
        assert "status SUSPENDED" in suspended
        refused = http.post("/v1/transactions/send", json=send)
        assert refused.status_code == 403 and refused.json()["code"] == "WALLET_SUSPENDED"
        assert "SUSPENDED" in ok(waiaas("wallet", "list"))

        assert "status ACTIVE" in ok(waiaas("wallet", "resume", "main"))
        assert http.post("/v1/transactions/send", json=send).status_code == 201


def test_kill_switch_on_stops_sends_status_shows_it_and_off_lifts_it(waiaas, daemon):
    wallet = funded(daemon)
    shop = daemon.create_wallet("shop")
    send = {"to": shop["address"], "amount": "5000"}
    assert "Kill switch:     off" in ok(waiaas("status"))
    with agent(daemon, wallet["id"]) as http:
        assert "Kill switch ON" in ok(waiaas("kill-switch", "on", "--reason", "incident 7"))
        refused = http.post("/v1/transactions/send", json=send)
        assert refused.status_code == 403 and refused.json()["code"] == "KILL_SWITCH_ACTIVE"

        status = ok(waiaas("status"))
        assert "Kill switch:     ON since 20" in status and "incident 7" in status
        admin = json.loads(ok(waiaas("status", "--json")))["admin"]
        assert admin["killSwitch"]["active"] is True
        assert admin["killSwitch"]["reason"] == "incident 7"

        assert "Kill switch OFF" in ok(waiaas("kill-switch", "off"))
        assert "Kill switch:     off" in ok(waiaas("status"))
        assert http.post("/v1/transactions/send", json=send).status_code == 201


def test_mcp_setup_run_again_warns_that_the_replaced_sessions_waiting_sends_are_cancelled(
    waiaas, daemon
):
    wallet = funded(daemon)
    shop = daemon.create_wallet("shop")
    put_policy(daemon, wallet["id"], {"instantMax": "1000"})
    first = ok(waiaas("mcp", "setup", "--wallet", wallet["id"]))
    token = (daemon.data_dir / "mcp-tokens" / wallet["id"]).read_text().strip()
    assert "Session:" in first
    with daemon.client(headers={"Authorization": f"Bearer {token}"}) as http:
        sent = http.post("/v1/transactions/send", json={"to": shop["address"], "amount": "5000"})
    assert sent.status_code == 202, sent.text

    again = waiaas("mcp", "setup", "--wallet", wallet["id"])
    ok(again)
    assert "1 waiting send(s) no longer wait" in again.stderr and sent.json()["id"] in again.stderr
    assert "Nothing is waiting." in ok(waiaas("pending"))
    quiet = waiaas("mcp", "setup", "--wallet", wallet["id"])  # nothing waits: no warning
    assert "no longer wait" not in ok(quiet) and "no longer wait" not in quiet.stderr
