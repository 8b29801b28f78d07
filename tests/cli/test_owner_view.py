"""What the owner sees and types, against a real daemon (issue 27): wallet names,
balances, id prefixes, what waits, and the traps that used to answer beside the point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.checks import assert_one_line_error, fake_ok, ok
from tests.support.daemon import Daemon, running_daemon

pytestmark = pytest.mark.slow

SOL = 1_000_000_000
HOLD_ALL = {"instantMax": "0"}  # every send above 0 waits for the owner


def airdrop(daemon: Daemon, wallet_id: str, body: dict[str, str]) -> None:
    answer = daemon.api("POST", f"/v1/wallets/{wallet_id}/airdrop", json=body)
    assert answer.status_code == 201, answer.text


def agent(daemon: Daemon, wallet_id: str, label: str = "claude") -> httpx.Client:
    token = daemon.create_session(wallet_id, expiresIn=600, label=label)["token"]
    return daemon.client(headers={"Authorization": f"Bearer {token}"})


def held_send(daemon: Daemon, wallet: dict[str, Any], to: str, memo: str | None = None) -> str:
    put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=HOLD_ALL)
    assert put.status_code == 200, put.text
    body = {"to": to, "amount": str(SOL // 10)} | ({"memo": memo} if memo else {})
    with agent(daemon, wallet["id"]) as http:
        sent = http.post("/v1/transactions/send", json=body)
    assert sent.status_code == 202, sent.text
    return sent.json()["id"]


def test_a_second_wallet_of_one_name_is_refused_but_a_deleted_one_does_not_count(waiaas, daemon):
    ok(waiaas("wallet", "create", "main"))
    assert_one_line_error(waiaas("wallet", "create", "main"), "already called 'main'")
    assert len(daemon.api("GET", "/v1/wallets").json()["items"]) == 1
    out = ok(waiaas("wallet", "delete", "main"))
    assert "Deleted wallet main" in out and "TERMINATED" in out
    ok(waiaas("wallet", "create", "main"))
    # The name now means the live wallet, not the deleted one.
    out = ok(waiaas("wallet", "balance", "main"))
    assert "0 SOL" in out


def test_rename_then_every_wallet_argument_takes_the_new_name(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    out = ok(waiaas("wallet", "rename", "main", "daily"))
    assert f"Renamed wallet main to daily ({wallet['id']})" in out
    assert_one_line_error(waiaas("wallet", "rename", wallet["id"], "dai\x07ly"), "name")
    ok(waiaas("wallet", "suspend", "daily"))
    ok(waiaas("wallet", "resume", "daily"))
    assert "no wallet has the id or name 'main'" in waiaas("wallet", "suspend", "main").stderr


def test_delete_refuses_a_wallet_with_funds_unless_forced(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    airdrop(daemon, wallet["id"], {"amount": str(SOL)})
    session = daemon.create_session(wallet["id"])
    refused = waiaas("wallet", "delete", "main")
    assert_one_line_error(refused, "still holds 1 SOL", "--force")
    assert daemon.api("GET", f"/v1/wallets/{wallet['id']}").json()["status"] == "ACTIVE"
    ok(waiaas("wallet", "delete", "main", "--force"))
    assert daemon.api("GET", f"/v1/wallets/{wallet['id']}").json()["status"] == "TERMINATED"
    sessions = daemon.api("GET", "/v1/sessions", params={"walletId": wallet["id"]}).json()
    assert [s["status"] for s in sessions["items"] if s["id"] == session["id"]] == ["REVOKED"]
    assert_one_line_error(waiaas("wallet", "delete", wallet["id"]), "already deleted")


def test_balance_and_list_show_every_asset_in_whole_units(waiaas, daemon):
    main = daemon.create_wallet("main")
    daemon.create_wallet("empty")
    airdrop(daemon, main["id"], {"amount": str(SOL + SOL // 2)})
    airdrop(daemon, main["id"], {"amount": "12500000", "token": "USDC"})
    out = ok(waiaas("wallet", "balance", "main"))
    assert "1.5 SOL" in out and "12.5 USDC" in out
    both = ok(waiaas("wallet", "balance"))
    assert "main (local" in both and "empty (local" in both
    listed = ok(waiaas("wallet", "list"))
    assert "BALANCES" in listed
    [main_row] = [line for line in listed.splitlines() if main["id"] in line]
    assert "1.5 SOL, 12.5 USDC" in main_row
    [empty_row] = [line for line in listed.splitlines() if " empty " in line]
    assert "0 SOL" in empty_row
    data = json.loads(ok(waiaas("wallet", "balance", "main", "--json")))
    assert data[0]["name"] == "main" and data[0]["items"][0]["amount"] == str(SOL + SOL // 2)


def test_mcp_setup_takes_a_wallet_name_for_stdio_and_http(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    daemon.create_wallet("other")
    out = ok(waiaas("mcp", "setup", "--wallet", "main", "--no-limits"))
    assert wallet["id"] in out
    assert (daemon.data_dir / "mcp-tokens" / wallet["id"]).exists()
    out = ok(waiaas("mcp", "setup", "--http", "--wallet", "main", "--no-limits"))
    assert "waiaas-main" in out


def test_approve_and_reject_take_a_unique_prefix_and_name_the_ambiguous_ones(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    airdrop(daemon, wallet["id"], {"amount": str(2 * SOL)})
    payee = daemon.create_wallet("payee")["address"]
    ids = [held_send(daemon, wallet, payee) for _ in range(3)]
    first = ids[0]
    out = ok(waiaas("approve", first[:8]))
    assert f"Approved {first}" in out
    record = daemon.api("GET", "/v1/pending").json()["items"]
    assert first not in [t["id"] for t in record]
    # a prefix two waiting ids share is refused, naming both
    shared = ""
    for length in range(1, 36):
        if ids[1][:length] != ids[2][:length]:
            break
        shared = ids[1][:length]
    if len(shared) >= 4:
        assert_one_line_error(waiaas("reject", shared), "ambiguous", ids[1], ids[2])
    out = ok(waiaas("reject", ids[1][:10], "--reason", "no"))
    assert f"Rejected {ids[1]}" in out
    assert_one_line_error(waiaas("approve", "ffffffff"), "no waiting send has an id starting")
    too_short = waiaas("approve", ids[2][:3])
    assert too_short.returncode == 2 and "at least 4 characters" in too_short.stderr


def test_approve_names_both_ids_when_a_prefix_is_ambiguous(run_fake, fake):
    wallet = fake.add_wallet("main")
    for suffix in ("1111", "2222"):
        fake.pending.append(
            {
                "id": f"caae9cfd-0000-4000-8000-00000000{suffix}",
                "walletId": wallet["id"],
                "status": "PENDING_APPROVAL",
                "amount": "1",
                "to": wallet["address"],
            }
        )
    result = run_fake("approve", "caae9cfd")
    assert result.exit_code == 1
    assert "ambiguous" in result.stderr
    assert "caae9cfd-0000-4000-8000-000000001111" in result.stderr
    assert "caae9cfd-0000-4000-8000-000000002222" in result.stderr
    assert not fake.sent("POST", "/v1/pending/caae9cfd/approve")


def test_pending_session_list_and_audit_name_the_wallet_and_show_the_memo(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    airdrop(daemon, wallet["id"], {"amount": str(SOL)})
    savings = daemon.create_wallet("savings")
    tx_id = held_send(daemon, wallet, savings["address"], memo="rent for march")
    pending = ok(waiaas("pending"))
    [row] = [line for line in pending.splitlines() if tx_id in line]
    assert " main " in row and "rent for march" in row
    assert f"{savings['address']} (wallet savings)" in row
    assert wallet["id"] not in row
    sessions = ok(waiaas("session", "list"))
    [srow] = [line for line in sessions.splitlines() if "claude" in line]
    assert " main " in srow and wallet["id"] not in srow
    audit = ok(waiaas("audit", "--limit", "50"))
    [arow] = [line for line in audit.splitlines() if "send.pending" in line]
    assert "main" in arow and "0.1 SOL" in arow and "memo: rent for march" in arow
    assert "claude (session" in arow


def test_pending_shows_the_site_a_payment_pays(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.pending.append(
        {
            "id": "0b4a3c1e-0000-4000-8000-000000000001",
            "walletId": wallet["id"],
            "type": "PAYMENT",
            "status": "PENDING_APPROVAL",
            "amount": "250000",
            "token": {"mint": wallet["address"], "symbol": "USDC", "decimals": 6},
            "to": wallet["address"],
            "origin": "https://api.example.com",
            "approvalExpiresAt": 1_800_003_600,
        }
    )
    out = fake_ok(run_fake("pending"))
    assert "payment for https://api.example.com" in out and "0.25 USDC" in out


def test_status_says_how_many_sends_wait(waiaas, daemon):
    assert "Waiting:         nothing waits for a decision" in ok(waiaas("status"))
    wallet = daemon.create_wallet("main")
    airdrop(daemon, wallet["id"], {"amount": str(SOL)})
    held_send(daemon, wallet, daemon.create_wallet("payee")["address"])
    out = ok(waiaas("status"))
    assert "Waiting:         1 (1 for your approval, 0 delayed): see `waiaas pending`" in out
    assert json.loads(ok(waiaas("status", "--json")))["pending"] == 1


def test_a_negative_amount_is_an_error_about_the_amount(waiaas, daemon):
    daemon.create_wallet("main")
    result = waiaas("wallet", "airdrop", "main", "-1")
    assert result.returncode == 2
    assert "No such option" not in result.stderr
    assert "AMOUNT" in result.stderr and "cannot be negative" in result.stderr


def test_the_lockout_says_when_to_try_again_once(cli, tmp_path):
    config = {"security": {"master_lockout_attempts": 2}}
    with running_daemon(tmp_path / "data", config=config) as daemon:
        where = ("--base-url", daemon.base_url)
        for _ in range(2):
            cli("status", *where, env={"WAIAAS_MASTER_PASSWORD": "wrong"})
        right = {"WAIAAS_MASTER_PASSWORD": daemon.password}
        line = assert_one_line_error(cli("status", *where, env=right), "locked")
    assert line.lower().count("try again") == 1, line


def test_setup_again_says_no_restart_is_needed_when_claude_already_reads_the_token(
    waiaas, daemon, home: Path
):
    daemon.create_wallet("main")
    first = ok(waiaas("mcp", "setup", "--write-config", "--no-limits"))
    assert "Restart Claude Desktop to load them." in first
    again = ok(waiaas("mcp", "setup", "--no-limits"))
    assert "Restart Claude Desktop" not in again
    assert "Run again with --write-config" not in again
    assert "picks up the new token" in again and "no restart needed" in again
    written = ok(waiaas("mcp", "setup", "--write-config", "--no-limits"))
    assert "Restart Claude Desktop" not in written and "no restart needed" in written
