"""waiaas-mcp end to end: the official MCP client, a real `waiaas-daemon serve`, a real chain.

The daemon runs with min_session_ttl = 1 so that tokens of two seconds renew while
the tools are in use.
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
# Tokens are issued on whole seconds: one of 6 s may have 5 s left when written, and
# the server takes about one to start (several on a loaded 2-core machine). It
# renews every 3.6 s.
STARTUP_TTL = 6
SHORT_TTL = 2  # for servers already running: renewed every 1.2 s


def provision(daemon: Daemon, wallet_id: str, expires_in: int = 3600) -> dict[str, Any]:
    response = daemon.api(
        "POST", "/v1/mcp/tokens", json={"walletId": wallet_id, "expiresIn": expires_in}
    )
    assert response.status_code == 201, response.text
    return response.json()


def funded_wallet(daemon: Daemon, name: str, lamports: int = 2 * SOL) -> dict[str, Any]:
    wallet = daemon.create_wallet(name)
    response = daemon.api(
        "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(lamports)}
    )
    assert response.status_code == 201, response.text
    return wallet


def balance_of(daemon: Daemon, wallet_id: str) -> int:
    token = daemon.create_session(wallet_id, expiresIn=60)["token"]
    with daemon.client(headers={"Authorization": f"Bearer {token}"}) as http:
        return int(http.get("/v1/wallet/balance").json()["balance"])


def mcp_server(daemon: Daemon, wallet: dict[str, Any], log: Path, poll: float = 1):
    return mcp_client(daemon.base_url, daemon.data_dir, wallet, log, poll)


async def test_tools_move_funds_and_the_server_renews_its_token_while_in_use(
    daemon: Daemon, tmp_path: Path
):
    wallet = funded_wallet(daemon, "agent")
    recipient = daemon.create_wallet("shop")
    token_file = Path(provision(daemon, wallet["id"], STARTUP_TTL)["tokenPath"])
    async with mcp_server(daemon, wallet, tmp_path / "mcp.log") as client:
        assert len((await client.list_tools()).tools) == 11
        assert len((await client.list_resources()).resources) == 4
        assert (await call(client, "get_address"))["address"] == wallet["address"]
        assert (await call(client, "get_balance"))["balance"] == str(2 * SOL)
        sent = await call(client, "send_token", {"to": recipient["address"], "amount": SOL // 4})
        assert sent["status"] == "CONFIRMED"

        tokens = [token_file.read_text()]
        calls = 0
        with anyio.fail_after(15):
            while len(tokens) < 3:  # the first token and two renewals
                balance = await call(client, "get_balance")
                calls += 1
                assert "session_expired" not in balance and "network_error" not in balance
                if (current := token_file.read_text()) != tokens[-1]:
                    tokens.append(current)
                await anyio.sleep(0.05)
            # The daemon writes the file before its answer reaches waiaas-mcp: the third
            # token can be seen here a moment before the server has taken it.
            while ((info := await call(client, "get_session_info"))["renewalCount"] or 0) < 2:
                await anyio.sleep(0.05)
    assert info["state"] == "active"
    assert info["renewalCount"] >= 2
    assert len(set(tokens)) == 3 and calls > 3
    log = (tmp_path / "mcp.log").read_text()
    assert log.count("Session renewed") >= 2
    assert not any(token.strip() in log for token in tokens)  # no secret in the log
    assert balance_of(daemon, recipient["id"]) == SOL // 4
    assert int(balance["balance"]) < 2 * SOL - SOL // 4  # the transfer and its fee


async def test_a_revoked_session_answers_expired_until_a_new_token_is_provisioned(
    daemon: Daemon, tmp_path: Path
):
    wallet = daemon.create_wallet("agent")
    first = provision(daemon, wallet["id"])
    async with mcp_server(daemon, wallet, tmp_path / "mcp.log", poll=1) as client:
        assert (await call(client, "get_address"))["address"] == wallet["address"]

        assert daemon.api("DELETE", f"/v1/sessions/{first['sessionId']}").status_code == 200
        expired = await client.call_tool("get_address", {})
        assert not expired.is_error
        assert result_json(expired)["session_expired"] is True
        assert (await call(client, "get_session_info"))["state"] == "expired"

        provision(daemon, wallet["id"])
        provisioned_at = time.monotonic()
        with anyio.fail_after(5):
            while "session_expired" in (info := await call(client, "get_session_info")):
                await anyio.sleep(0.05)
        assert time.monotonic() - provisioned_at <= 1.5  # one poll of 1 s, and some slack
        assert info["state"] == "active"
        assert (await call(client, "get_address"))["address"] == wallet["address"]


async def test_two_servers_sharing_one_token_file_both_stay_active_across_renewals(
    daemon: Daemon, tmp_path: Path
):
    wallet = funded_wallet(daemon, "agent")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    async with AsyncExitStack() as stack:
        # Both start without a token and take the same one from the file at once.
        clients = [
            await stack.enter_async_context(mcp_server(daemon, wallet, log, poll=0.05))
            for log in logs
        ]
        token_file = Path(provision(daemon, wallet["id"], SHORT_TTL)["tokenPath"])
        tokens = [token_file.read_text()]
        with anyio.fail_after(15):
            while len(tokens) < 4:  # three renewals
                for client in clients:
                    balance = await call(client, "get_balance")
                    if "session_expired" in balance and len(tokens) == 1:
                        continue  # the first poll has not come yet
                    assert balance["balance"] == str(2 * SOL), balance
                if (current := token_file.read_text()) != tokens[-1]:
                    tokens.append(current)
                await anyio.sleep(0.05)
        infos = [await call(client, "get_session_info") for client in clients]
    assert [info["state"] for info in infos] == ["active", "active"]
    assert infos[0]["sessionId"] == infos[1]["sessionId"]
    # Once active, neither lost its session: one renewed, the other took the file's token.
    since_active = "".join(log.read_text().split("Session active", 1)[1] for log in logs)
    assert "from token file" in since_active
    assert "Session expired" not in since_active and "Session error" not in since_active


async def test_the_daemon_going_away_is_a_network_error_not_a_crash(daemon: Daemon, tmp_path: Path):
    wallet = daemon.create_wallet("agent")
    provision(daemon, wallet["id"])
    async with mcp_server(daemon, wallet, tmp_path / "mcp.log") as client:
        assert (await call(client, "get_address"))["address"] == wallet["address"]
        daemon.stop()
        result = await client.call_tool("get_balance", {})
        assert not result.is_error
        assert result_json(result)["network_error"] is True
    with pytest.raises(httpx.ConnectError):
        httpx.get(daemon.base_url + "/health")
