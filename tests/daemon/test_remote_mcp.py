"""/mcp on a fake clock: the daemon renews an mcp-http session, the bearer never changes.

In process (the real app and SQLite, the MCP transport's task group running as in
the lifespan), tool calls as raw JSON-RPC POSTs: the transport is stateless, so
each POST stands on its own, as a remote client's does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, START, FakeClock, Harness
from waiaas_core.config import Settings
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

TTL = 3600
HALF = TTL // 2 + 1


@pytest.fixture
def settings() -> Settings:
    return Settings(min_session_ttl=10, session_ttl=TTL, max_renewals=3)


@pytest.fixture
async def harness(tmp_path, settings) -> AsyncIterator[Harness]:
    clock = FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        app = create_app(state)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            app.remote_mcp.running(),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
        ):
            yield Harness(state, http, clock)


async def mcp_call(
    h: Harness, token: str | None, tool: str, arguments: dict[str, Any] | None = None
) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": tool, "arguments": arguments or {}},
    }
    return await h.http.post("/mcp", json=body, headers=headers)


async def tool(h: Harness, token: str, name: str) -> dict[str, Any]:
    response = await mcp_call(h, token, name)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert not result.get("isError"), result
    return json.loads(result["content"][0]["text"])


async def remote_session(h: Harness, **body: Any) -> dict[str, Any]:
    wallet = await h.wallet()
    return await h.session(wallet["id"], label="mcp-http", **body)


async def test_the_daemon_renews_past_half_the_ttl_and_the_first_token_keeps_working(
    harness: Harness,
):
    h = harness
    session = await remote_session(h)
    token = session["token"]

    h.clock.advance(TTL // 2 - 10)  # before half the TTL: nothing renews
    info = await tool(h, token, "get_session_info")
    assert (info["state"], info["renewalCount"]) == ("active", 0)
    assert info["expiresAt"] == session["expiresAt"]

    h.clock.advance(20)  # past half: this request renews the session
    info = await tool(h, token, "get_session_info")
    assert info["renewalCount"] == 1
    assert info["expiresAt"] == int(h.clock.now) + TTL
    assert info["lastRenewedAt"] == int(h.clock.now)

    h.clock.advance(TTL // 2 + 100)  # past the first token's own exp
    assert (await h.as_agent(token)).status_code == 401  # REST: the token is gone
    assert (await tool(h, token, "get_address"))["chain"] == "solana"  # /mcp: the session
    info = await tool(h, token, "get_session_info")
    assert info["renewalCount"] == 2  # that was past half of the renewed TTL too

    # The renewal is on the audit log as the session's, done by the daemon.
    audit = await h.http.get("/v1/audit", params={"limit": 50}, headers=MASTER)
    renewals = [e for e in audit.json()["items"] if e["action"] == "session.renew"]
    assert len(renewals) == 2
    assert all(e["details"]["by"] == "daemon" for e in renewals)


async def test_max_renewals_still_bind_then_the_session_expires(harness: Harness):
    h = harness
    token = (await remote_session(h))["token"]
    for count in (1, 2, 3):
        h.clock.advance(HALF)
        assert (await tool(h, token, "get_session_info"))["renewalCount"] == count
    h.clock.advance(HALF)
    info = await tool(h, token, "get_session_info")
    assert info["renewalCount"] == 3  # max_renewals = 3: no more
    h.clock.advance(TTL)
    refused = await mcp_call(h, token, "get_balance")
    assert refused.status_code == 401
    assert refused.json()["code"] == "SESSION_EXPIRED"
    assert refused.headers["www-authenticate"].startswith("Bearer")


async def test_the_absolute_lifetime_still_binds(harness: Harness):
    h = harness
    h.configure(absolute_lifetime=TTL + 600)
    token = (await remote_session(h))["token"]
    h.clock.advance(HALF)
    info = await tool(h, token, "get_session_info")
    assert info["expiresAt"] == info["absoluteExpiresAt"] == int(START) + TTL + 600
    h.clock.advance(TTL)  # past the absolute lifetime
    refused = await mcp_call(h, token, "get_address")
    assert (refused.status_code, refused.json()["code"]) == (401, "SESSION_EXPIRED")


async def test_an_idle_session_expires_after_its_ttl(harness: Harness):
    h = harness
    token = (await remote_session(h))["token"]
    h.clock.advance(TTL + 1)  # no request in a whole TTL: nothing renewed it
    refused = await mcp_call(h, token, "get_address")
    assert (refused.status_code, refused.json()["code"]) == (401, "SESSION_EXPIRED")


async def test_revocation_is_immediate_even_for_a_renewed_session(harness: Harness):
    h = harness
    session = await remote_session(h)
    h.clock.advance(HALF)
    assert (await tool(h, session["token"], "get_session_info"))["renewalCount"] == 1
    revoked = await h.http.delete(f"/v1/sessions/{session['id']}", headers=MASTER)
    assert revoked.status_code == 200
    refused = await mcp_call(h, session["token"], "get_address")
    assert (refused.status_code, refused.json()["code"]) == (401, "SESSION_REVOKED")


async def test_other_sessions_are_never_renewed_by_the_daemon(harness: Harness):
    h = harness
    wallet = await h.wallet()
    for label in (None, "mcp"):
        session = await h.session(wallet["id"], **({"label": label} if label else {}))
        h.clock.advance(HALF)
        info = await tool(h, session["token"], "get_session_info")
        assert info["renewalCount"] == 0
        h.clock.advance(TTL)  # its token's exp: /mcp judges it as REST does
        refused = await mcp_call(h, session["token"], "get_address")
        assert (refused.status_code, refused.json()["code"]) == (401, "SESSION_EXPIRED")


async def test_a_token_replaced_by_the_holders_own_renewal_is_refused(harness: Harness):
    # An mcp-http session renewed through PUT /renew: the first token stands for the
    # session only on /mcp, and the new one works everywhere.
    h = harness
    session = await remote_session(h)
    h.clock.advance(HALF)
    renewed = await h.renew(session)
    assert renewed.status_code == 200
    new_token = renewed.json()["token"]
    h.clock.advance(h.state.settings.renewal_grace + 1)
    assert (await h.as_agent(session["token"])).status_code == 401
    assert (await tool(h, session["token"], "get_address"))["chain"] == "solana"
    assert (await tool(h, new_token, "get_address"))["chain"] == "solana"


async def test_no_or_a_forged_bearer_is_refused_before_mcp(harness: Harness):
    h = harness
    session = await remote_session(h)
    for token in (None, "wai_sess_forged", session["token"] + "x"):
        refused = await mcp_call(h, token, "get_address")
        assert refused.status_code == 401
        assert refused.json()["code"] == "INVALID_TOKEN"
        assert refused.headers["www-authenticate"].startswith('Bearer realm="waiaas", ')


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:3100", True),
        ("http://localhost", True),
        ("https://[::1]:8443", True),
        ("http://wallet.lan:3100", True),  # the allow_remote host
        ("http://evil.example", False),
        ("http://127.0.0.1.evil.example", False),
        ("http://localhost:3100/path", False),
        ("null", False),
        ("file://", False),
        ("ftp://localhost", False),
        ("http://localhost:0", False),
    ],
)
def test_origin_must_be_one_of_the_daemons_host_names(origin: str, allowed: bool):
    from waiaas_daemon.serving.middleware import LOOPBACK_NAMES
    from waiaas_daemon.serving.remote_mcp import RemoteMcp

    remote = RemoteMcp(None, LOOPBACK_NAMES | {"wallet.lan"})  # type: ignore[arg-type]
    assert remote._origin_allowed(origin) is allowed
