"""Issue 12 end to end: an agent on the official MCP client, the owner on the `waiaas` CLI,
one real `waiaas-daemon serve` between them (SPEC 9, 10, 12).

The agent's server is provisioned the way a person does it, by `waiaas mcp setup`; the
owner's rules are set by `waiaas policy set`, decided by `waiaas approve` and listed by
`waiaas pending`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession

from tests.cli.checks import assert_one_line_error, ok
from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000


def funded(daemon: Daemon, name: str, lamports: int = 2 * SOL) -> dict[str, Any]:
    wallet = daemon.create_wallet(name)
    airdrop = {"amount": str(lamports)}
    response = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=airdrop)
    assert response.status_code == 201, response.text
    return wallet


def setup(waiaas: Any, wallet: dict[str, Any], *limits: str) -> str:
    """`waiaas mcp setup` for one wallet; its report."""
    return ok(waiaas("mcp", "setup", "--wallet", wallet["id"], *limits))


def agent_server(daemon: Daemon, wallet: dict[str, Any], tmp_path: Path) -> Any:
    return mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log", poll=0.2)


async def refused(client: ClientSession, name: str, arguments: dict[str, Any]) -> Any:
    """A tool call that must fail with an API error; its JSON."""
    result = await client.call_tool(name, arguments)
    body = result_json(result)
    assert result.is_error, body
    return body


async def until_status(client: ClientSession, tx_id: str, status: str) -> dict[str, Any]:
    """get_transaction until the record reaches ``status`` (the chain settles it)."""
    with anyio.fail_after(15):
        while (record := await call(client, "get_transaction", {"transaction_id": tx_id}))[
            "status"
        ] != status:
            await anyio.sleep(0.05)
    return record


async def test_an_approval_tier_send_waits_for_the_owner_and_confirms_after_waiaas_approve(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(
        waiaas(
            "policy",
            "set",
            "agent",
            "--instant-max",
            "0.01",
            "--approval-timeout",
            "1h",
            "--daily-limit",
            "1",
        )
    )
    report = setup(waiaas, wallet)
    assert "Wallet policy:" in report and "0.01 SOL" in report and "(dailyLimit)" in report
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            before = time.time()
            sent = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            tx_id = sent["id"]
            assert sent["status"] == "PENDING_APPROVAL" and sent["tier"] == "APPROVAL"
            assert before + 3600 - 5 <= sent["approvalExpiresAt"] <= time.time() + 3600 + 5
            assert sent["approvalExpiresAtIso"].endswith("Z")
            assert f"waiaas approve {tx_id}" in sent["message"]
            assert "owner" in sent["message"] and "Do not send it again" in sent["message"]
            waiting = await call(client, "get_transaction", {"transaction_id": tx_id})
            assert waiting["status"] == "PENDING_APPROVAL" and waiting["signature"] is None
            rules = await call(client, "get_policy")
            assert rules["policy"]["instantMax"] == "10000000"
            assert rules["remaining"]["daily"] == str(SOL - SOL // 4)  # the waiting send counts

            approved = ok(waiaas("approve", tx_id))
            assert f"Approved {tx_id}: 0.25 SOL to {shop['address']}" in approved

            record = await until_status(client, tx_id, "CONFIRMED")
            assert record["tier"] == "APPROVAL" and record["signature"]
            assert record["decidedAt"] is not None
            balance = await call(client, "get_balance")
    assert int(balance["balance"]) < 2 * SOL - SOL // 4  # the transfer and its fee


async def test_cancel_transaction_withdraws_a_waiting_send_once(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(waiaas("policy", "set", "agent", "--instant-max", "0.01"))
    setup(waiaas, wallet)
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            sent = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            cancelled = await call(client, "cancel_transaction", {"transaction_id": sent["id"]})
            assert cancelled["id"] == sent["id"] and cancelled["status"] == "CANCELLED"
            again = await refused(client, "cancel_transaction", {"transaction_id": sent["id"]})
            assert again["code"] == "TRANSACTION_NOT_PENDING"
            assert "Nothing is waiting." in ok(waiaas("pending"))

            second = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            ok(waiaas("reject", second["id"], "--reason", "too much"))
            record = await call(client, "get_transaction", {"transaction_id": second["id"]})
            assert record["status"] == "REJECTED" and record["reason"] == "too much"
            late = await refused(client, "cancel_transaction", {"transaction_id": second["id"]})
            assert late["code"] == "TRANSACTION_NOT_PENDING"
            unknown = "00000000-0000-4000-8000-000000000000"
            missing = await refused(client, "cancel_transaction", {"transaction_id": unknown})
            assert missing["code"] == "TRANSACTION_NOT_FOUND"


async def test_a_delay_tier_send_is_queued_with_its_time_and_waiaas_pending_lists_it(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(waiaas("policy", "set", "agent", "--instant-max", "0.01", "--delay-max", "1"))
    ok(waiaas("policy", "set", "agent", "--delay", "1h"))
    setup(waiaas, wallet)
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            before = time.time()
            sent = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            assert sent["status"] == "QUEUED" and sent["tier"] == "DELAY"
            assert before + 3600 - 5 <= sent["executeAt"] <= time.time() + 3600 + 5
            assert sent["executeAtIso"].endswith("Z")
            assert f"cancel_transaction('{sent['id']}')" in sent["message"]

            listed = ok(waiaas("pending"))
            assert sent["id"] in listed and "QUEUED" in listed and "0.25 SOL" in listed
            assert f"runs {sent['executeAtIso']}" in listed
            [item] = json.loads(ok(waiaas("pending", "--json")))
            assert item["executeAt"] == sent["executeAt"] and item["walletId"] == wallet["id"]

            ok(waiaas("approve", sent["id"]))  # the owner need not wait the hour
            record = await until_status(client, sent["id"], "CONFIRMED")
            assert record["tier"] == "DELAY" and record["signature"]


async def test_mcp_setup_limits_bind_the_agent_survive_a_rerun_and_no_limits_lifts_them(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    report = setup(waiaas, wallet, "--max-per-tx", "0.01")
    assert "0.01 SOL" in report and "maxAmountPerTx" in report
    big = {"to": shop["address"], "amount": SOL // 50}  # 0.02 SOL
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(45):
            info = await call(client, "get_session_info")
            assert info["state"] == "active" and info["renewalCount"] == 0
            assert isinstance(info["maxRenewals"], int) and info["maxRenewals"] > 0
            assert info["absoluteExpiresAt"] > info["expiresAt"] - 1
            assert info["constraints"] == {"maxAmountPerTx": "10000000"}

            policy = await call(client, "get_policy")
            assert policy["constraints"] == {"maxAmountPerTx": "10000000"}
            assert policy["policy"] == {} and policy["version"] == 0
            assert set(policy["remaining"]) == {"daily", "monthly", "sendsThisHour", "tokens"}

            denied = await refused(client, "send_token", big)
            assert denied["code"] == "CONSTRAINT_VIOLATED" and "maxAmountPerTx" in denied["message"]

            # Setup again without a limit flag: a new session, the same limit.
            rerun = setup(waiaas, wallet)
            assert "maxAmountPerTx" in rerun
            info = await call(client, "get_session_info")  # re-reads the new token file
            assert info["state"] == "active" and info["constraints"] == {
                "maxAmountPerTx": "10000000"
            }
            denied = await refused(client, "send_token", big)
            assert denied["code"] == "CONSTRAINT_VIOLATED"

            lifted = ok(waiaas("mcp", "setup", "--wallet", wallet["id"], "--no-limits"))
            assert "Session limits: none" in lifted
            info = await call(client, "get_session_info")
            assert not info["constraints"]
            assert not (await call(client, "get_policy"))["constraints"]
            sent = await call(client, "send_token", big)
            assert sent["status"] in ("SUBMITTED", "CONFIRMED") and sent["tier"] == "INSTANT"


async def test_the_owners_controls_reach_the_agent_as_named_errors_and_reads_go_on(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop, other = daemon.create_wallet("shop"), daemon.create_wallet("other")
    ok(
        waiaas(
            "policy",
            "set",
            "agent",
            "--instant-max",
            "0.01",
            "--allow-recipient",
            shop["address"],
            "--max-sends-per-hour",
            "2",
        )
    )
    setup(waiaas, wallet)
    small = {"to": shop["address"], "amount": 1000}
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(45):
            big = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            assert big["status"] == "PENDING_APPROVAL"
            denied = await refused(client, "send_token", {**small, "to": other["address"]})
            assert denied["code"] == "POLICY_DENIED" and "allowedRecipients" in denied["message"]

            ok(waiaas("kill-switch", "on", "--reason", "drill"))
            stopped = await refused(client, "send_token", small)
            assert stopped["code"] == "KILL_SWITCH_ACTIVE"
            assert_one_line_error(waiaas("approve", big["id"]), "KILL_SWITCH_ACTIVE")
            assert (await call(client, "get_balance"))["balance"] == str(2 * SOL)
            assert (await call(client, "get_session_info"))["state"] == "active"
            waiting = await call(client, "get_transaction", {"transaction_id": big["id"]})
            assert waiting["status"] == "PENDING_APPROVAL"

            ok(waiaas("kill-switch", "off"))
            ok(waiaas("approve", big["id"]))
            await until_status(client, big["id"], "CONFIRMED")
            assert (await call(client, "send_token", small))["tier"] == "INSTANT"
            limited = await refused(client, "send_token", small)
            assert limited["code"] == "RATE_LIMITED"
            assert 1 <= limited["retryAfter"] <= 3600

            ok(waiaas("wallet", "suspend", "agent"))
            suspended = await refused(client, "send_token", small)
            assert suspended["code"] == "WALLET_SUSPENDED"
            assert (await call(client, "get_address"))["address"] == wallet["address"]


async def test_a_queued_send_whose_delay_is_zero_is_sent_by_the_daemon_by_itself(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(waiaas("policy", "set", "agent", "--instant-max", "0.01", "--delay-max", "1"))
    ok(waiaas("policy", "set", "agent", "--delay", "0"))
    setup(waiaas, wallet)
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            sent = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            assert sent["status"] == "QUEUED" and sent["tier"] == "DELAY"
            record = await until_status(client, sent["id"], "CONFIRMED")
            assert record["signature"] and record["tier"] == "DELAY"


async def test_an_unapproved_send_expires_and_approving_it_late_is_refused(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(waiaas("policy", "set", "agent", "--instant-max", "0.01", "--approval-timeout", "1s"))
    setup(waiaas, wallet)
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            sent = await call(client, "send_token", {"to": shop["address"], "amount": SOL // 4})
            assert sent["status"] == "PENDING_APPROVAL"
            record = await until_status(client, sent["id"], "EXPIRED")  # the daemon's 1 s
            assert record["signature"] is None
            assert_one_line_error(waiaas("approve", sent["id"]), "TRANSACTION_NOT_PENDING")
            assert "Nothing is waiting." in ok(waiaas("pending"))
            assert (await call(client, "get_balance"))["balance"] == str(2 * SOL)


async def test_mcp_setup_refused_by_the_kill_switch_leaves_the_running_agent_its_session(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    report = setup(waiaas, wallet, "--max-per-day", "1")
    assert "maxAmountPerDay" in report
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            before = await call(client, "get_session_info")
            ok(waiaas("kill-switch", "on"))
            refused_setup = waiaas("mcp", "setup", "--wallet", wallet["id"], "--no-limits")
            assert_one_line_error(refused_setup, "KILL_SWITCH_ACTIVE")
            for path in ("/v1/sessions", "/v1/mcp/tokens"):
                created = daemon.api("POST", path, json={"walletId": wallet["id"]})
                assert created.status_code == 403, (path, created.text)
                assert created.json()["code"] == "KILL_SWITCH_ACTIVE"
            after = await call(client, "get_session_info")
            assert after["state"] == "active" and after["sessionId"] == before["sessionId"]
            assert after["constraints"] == {"maxAmountPerDay": str(SOL)}
            assert (await call(client, "get_balance"))["balance"] == str(2 * SOL)
            ok(waiaas("kill-switch", "off"))


async def test_a_suspended_wallet_gets_a_new_mcp_session_and_only_its_sends_are_refused(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = funded(daemon, "agent")
    shop = daemon.create_wallet("shop")
    ok(waiaas("wallet", "suspend", "agent"))
    setup(waiaas, wallet, "--max-per-tx", "0.5")  # recovering the agent's token meanwhile
    async with agent_server(daemon, wallet, tmp_path) as client:
        with anyio.fail_after(30):
            assert (await call(client, "get_session_info"))["state"] == "active"
            small = {"to": shop["address"], "amount": 1000}
            assert (await refused(client, "send_token", small))["code"] == "WALLET_SUSPENDED"
            ok(waiaas("wallet", "resume", "agent"))
            assert (await call(client, "send_token", small))["tier"] == "INSTANT"
