"""Against a real `waiaas-daemon serve` subprocess: concurrency, provisioning, secrets."""

import os
import stat
import time

import anyio
import httpx
import pytest

from waiaas_core.tokens import decode_unverified

pytestmark = pytest.mark.anyio


async def _parallel(count, call):
    results = []

    async def one():
        results.append(await call())

    async with anyio.create_task_group() as group:
        for _ in range(count):
            group.start_soon(one)
    return results


async def test_twenty_parallel_renewals_over_http_exactly_one_wins(daemon):
    wallet = daemon.create_wallet()
    # Renewable from half the TTL on, on the daemon's real clock; the 3 s left after
    # that hold the twenty renewals on a loaded machine.
    session = daemon.create_session(wallet["id"], expiresIn=6)
    halfway = decode_unverified(session["token"])["iat"] + 3
    time.sleep(max(0.0, halfway - time.time() + 0.02))
    headers = {"Authorization": f"Bearer {session['token']}"}
    async with httpx.AsyncClient(base_url=daemon.base_url, timeout=10) as http:
        results = await _parallel(
            20, lambda: http.put(f"/v1/sessions/{session['id']}/renew", headers=headers)
        )
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19, [r.text for r in results if r.status_code != 409]


async def test_thirty_parallel_creations_over_http_stay_within_the_limit(daemon):
    wallet = daemon.create_wallet()
    async with httpx.AsyncClient(base_url=daemon.base_url, timeout=10) as http:
        results = await _parallel(
            30,
            lambda: http.post(
                "/v1/sessions", json={"walletId": wallet["id"]}, headers=daemon.master
            ),
        )
    assert sorted(r.status_code for r in results) == [201] * 5 + [403] * 25
    listed = daemon.api("GET", "/v1/sessions").json()["items"]
    assert sum(s["status"] == "ACTIVE" for s in listed) == 5


def test_provisioning_twice_leaves_one_mcp_session_and_the_newest_token(daemon):
    wallet = daemon.create_wallet()
    bodies = [
        daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]}).json()
        for _ in range(2)
    ]
    path = daemon.data_dir / "mcp-tokens" / wallet["id"]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert decode_unverified(path.read_text())["sub"] == bodies[1]["sessionId"]
    active = [
        s["id"]
        for s in daemon.api("GET", "/v1/sessions").json()["items"]
        if s["status"] == "ACTIVE"
    ]
    assert active == [bodies[1]["sessionId"]]
    assert (
        bodies[1]["claudeDesktopConfig"]["mcpServers"]["waiaas-main"]["env"]["WAIAAS_BASE_URL"]
        == daemon.base_url
    )


def test_no_secret_in_output_log_database_or_errors(daemon):
    wallet = daemon.create_wallet()
    session = daemon.create_session(wallet["id"])
    provisioned = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]}).json()
    mcp_token = (daemon.data_dir / "mcp-tokens" / wallet["id"]).read_text()
    answers = [
        daemon.api("GET", "/v1/wallets", headers={"X-Master-Password": daemon.password + "x"}),
        daemon.api("POST", "/v1/sessions", json={"walletId": wallet["id"], "expiresIn": 0}),
        httpx.get(
            daemon.base_url + "/v1/wallet/address",
            headers={"Authorization": f"Bearer {session['token']}x"},
        ),
        daemon.api("GET", "/v1/sessions"),
        daemon.api("GET", "/v1/wallets"),
    ]
    assert daemon.stop() == 0
    secrets = [daemon.password, session["token"], mcp_token]
    database = b"".join(
        p.read_bytes() for p in daemon.data_dir.iterdir() if p.name.startswith("waiaas.db")
    )
    texts = [daemon.log, *(a.text for a in answers), str(provisioned)]
    for secret in secrets:
        assert secret not in "".join(texts)
        assert secret.encode() not in database
    assert wallet["address"].encode() in database
