"""A daemon restarted under a running waiaas-mcp: the server rides it out on its own.

The daemon comes back on the same port, so the server's WAIAAS_BASE_URL stays
right; the server itself is never restarted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import anyio
import httpx
import pytest

from tests.faults.support import (
    cleanup,
    free_port,
    restart_on,
    serving,
    wait_for_line,
)
from tests.mcp.support import call, mcp_client, result_json
from tests.support.daemon import FAST_SECURITY, start_daemon, write_config

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

# Renewed at 60% of the lifetime (about 7 s in); the last 40% (4 s) leave room for
# the first two renewal retries (1 s, then 2 s later) while the daemon restarts.
TTL = 12
# Renewed about 6 s in; the retry that meets the restarted daemon comes 1 s after the
# daemon is back (about 1.5 s), well before the token's last 4 s run out.
LOST_TTL = 10


async def test_waiaas_mcp_renews_through_a_daemon_restart_without_restarting(tmp_path: Path):
    data = tmp_path / "data"
    write_config(data, {"security": FAST_SECURITY})
    port = free_port()
    log = tmp_path / "mcp.log"
    with cleanup([restart_on(data, port)]) as daemons:
        wallet = daemons[0].create_wallet("agent")
        response = daemons[0].api(
            "POST", "/v1/mcp/tokens", json={"walletId": wallet["id"], "expiresIn": TTL}
        )
        assert response.status_code == 201, response.text
        token_file = Path(response.json()["tokenPath"])
        provisioned = token_file.read_text()

        async with mcp_client(daemons[0].base_url, data, wallet, log) as client:
            assert (await call(client, "get_address"))["address"] == wallet["address"]

            daemons[0].kill()
            away = await client.call_tool("get_balance", {})
            assert not away.is_error and result_json(away)["network_error"] is True

            # The renewal falls due while the daemon is gone: it fails and is retried.
            await wait_for_line(log, "Renewal retry 1/3", timeout=TTL)
            assert token_file.read_text() == provisioned
            daemons.append(await anyio.to_thread.run_sync(restart_on, data, port))

            with anyio.fail_after(6):
                while token_file.read_text() == provisioned:
                    await anyio.sleep(0.05)
            info = await call(client, "get_session_info")
            assert (info["state"], info["renewalCount"]) == ("active", 1)
            assert info["sessionId"] == response.json()["sessionId"]
            assert (await call(client, "get_balance"))["balance"] == "0"
        assert daemons[1].stop() == 0

    text = log.read_text()
    assert "Session renewed" in text
    assert "Session expired" not in text and "Session error" not in text


class Proxy:
    """Between waiaas-mcp and the daemon: forwards requests, and can lose one renewal answer.

    Armed, it forwards the next renewal, and once the daemon has answered 200 (so
    committed it) runs ``after_commit`` (kill and restart the daemon), then breaks
    the connection instead of answering: the daemon died at the worst moment.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.after_commit: Any = None
        self.http = httpx.AsyncClient(timeout=10)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"host"]
        try:
            answer = await self.http.request(
                scope["method"],
                self.upstream + scope["path"] + query,
                headers=headers,
                content=body,
            )
        except httpx.TransportError:
            await _break(send)
        renewal = scope["method"] == "PUT" and scope["path"].endswith("/renew")
        if renewal and answer.status_code == 200 and self.after_commit is not None:
            hook, self.after_commit = self.after_commit, None
            await hook()
            await _break(send)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status_code,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer.content})


async def _break(send: Any) -> NoReturn:
    # A started answer that never ends: the client sees the connection break.
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"99")]}
    )
    raise ConnectionAbortedError("the daemon died before answering")


async def test_waiaas_mcp_recovers_when_the_daemon_dies_after_committing_its_renewal(
    tmp_path: Path,
):
    data = tmp_path / "data"
    log = tmp_path / "mcp.log"
    daemons = [start_daemon(data, config={"security": FAST_SECURITY})]
    proxy = Proxy(daemons[0].base_url)
    try:
        wallet = daemons[0].create_wallet("agent")
        response = daemons[0].api(
            "POST", "/v1/mcp/tokens", json={"walletId": wallet["id"], "expiresIn": LOST_TTL}
        )
        assert response.status_code == 201, response.text
        session_id = response.json()["sessionId"]

        async def kill_and_restart() -> None:
            daemons[-1].kill()
            daemons.append(await anyio.to_thread.run_sync(start_daemon, data))
            proxy.upstream = daemons[-1].base_url

        proxy.after_commit = kill_and_restart
        async with serving(proxy) as url, mcp_client(url, data, wallet, log) as client:
            assert (await call(client, "get_address"))["address"] == wallet["address"]
            await wait_for_line(log, "Renewal retry 1/3", timeout=LOST_TTL)
            assert len(daemons) == 2 and proxy.after_commit is None
            [renewals] = daemons[-1].api("GET", "/v1/sessions").json()["items"]
            assert (renewals["id"], renewals["renewalCount"]) == (session_id, 1)

            # The retry meets the restarted daemon, which has already renewed that token.
            # Without a restart of its own, the server must get back to a working session.
            outcomes = ("Session renewed", "Session expired", "Session error")
            with anyio.fail_after(8):
                while not any(line in log.read_text() for line in outcomes):
                    await anyio.sleep(0.05)
            info = await call(client, "get_session_info")
            assert info.get("state") == "active", info
            assert (await call(client, "get_address"))["address"] == wallet["address"]
    finally:
        await proxy.http.aclose()
        for daemon in daemons:
            daemon.kill()
            daemon.close()
