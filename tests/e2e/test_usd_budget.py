"""Issue 26 end to end: "USDC only, $10 a day, for a week" set by `waiaas mcp setup`,
spent by an agent on the official MCP client through the real `waiaas-mcp`, against a
real daemon whose prices come from loopback Pyth/CoinGecko/Jupiter servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.cli.checks import ok
from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon
from tests.support.prices import PriceFakes

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 10**9
USDC = 10**6
WEEK = 7 * 86400


@pytest.fixture
def daemon(tmp_path: Path, fakes: PriceFakes) -> Iterator[Daemon]:
    """The real daemon the `waiaas` fixture points at, with [prices] on the fakes."""
    config = {"security": FAST_SECURITY, "prices": fakes.config()}
    with running_daemon(tmp_path / "data", config=config) as running:
        yield running


async def refused(client: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    body = result_json(result)
    assert result.is_error, body
    return body


async def test_a_usdc_only_daily_dollar_budget_set_by_mcp_setup_binds_the_agent(
    daemon: Daemon, waiaas: Any, tmp_path: Path
):
    wallet = daemon.create_wallet("agent")
    shop = daemon.create_wallet("shop")
    for body in ({"amount": str(SOL)}, {"amount": str(100 * USDC), "token": "USDC"}):
        answer = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json=body)
        assert answer.status_code == 201, answer.text
    before = time.time()
    report = ok(
        waiaas(
            "mcp",
            "setup",
            "--wallet",
            wallet["id"],
            "--budget",
            "10/day",
            "--budget",
            "$4/tx",
            "--tokens",
            "USDC",
            "--expires-in",
            "7d",
        )
    )
    assert "at most per rolling 24 h of this session, every token: $10.00" in report
    assert "at most per send, every token: $4.00  (maxUsdPerTx)" in report
    assert "the chain's own coin (SOL, ETH): not allowed  (allowNative)" in report
    async with mcp_client(daemon.base_url, daemon.data_dir, wallet, tmp_path / "mcp.log") as agent:
        with anyio.fail_after(60):
            info = await call(agent, "get_session_info")
            assert before + WEEK - 5 <= info["expiresAt"] <= time.time() + WEEK + 5
            assert info["constraints"]["maxUsdPerDay"] == "10"
            assert info["constraints"]["allowNative"] is False
            assert info["budget"] == {
                "daily": "10.00",
                "monthly": None,
                "total": None,
                "perTx": "4",
            }

            usdc = {"to": shop["address"], "token": "USDC"}
            first = await call(agent, "send_token", {**usdc, "amount": 4 * USDC})
            second = await call(agent, "send_token", {**usdc, "amount": 3 * USDC})
            assert first["tier"] == second["tier"] == "INSTANT"
            assert second["usd"]["value"] == "3"

            too_big = await refused(agent, "send_token", {**usdc, "amount": 5 * USDC})
            assert too_big["code"] == "CONSTRAINT_VIOLATED" and "maxUsdPerTx" in too_big["message"]
            over_day = await refused(agent, "send_token", {**usdc, "amount": 4 * USDC})
            assert "maxUsdPerDay" in over_day["message"] and "$3.00" in over_day["message"]
            sol = await refused(agent, "send_token", {"to": shop["address"], "amount": SOL // 100})
            assert "allowNative" in sol["message"]

            rules = await call(agent, "get_policy")
            assert rules["remaining"]["usd"]["daily"] == "3.00"
            info = await call(agent, "get_session_info")
            assert info["budget"]["daily"] == "3.00"
