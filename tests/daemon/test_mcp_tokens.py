import hashlib
import os
import sqlite3
import stat

import pytest

from tests.daemon.conftest import MASTER
from waiaas_core.tokens import decode_unverified, sign_session_token
from waiaas_daemon.domain import token_files
from waiaas_daemon.domain.token_files import pending_path, settle_pending

pytestmark = pytest.mark.anyio


async def _provision(harness, wallet_id, **body):
    response = await harness.http.post(
        "/v1/mcp/tokens", json={"walletId": wallet_id, **body}, headers=MASTER
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_provisioning_writes_the_token_file_and_answers_the_snippet(harness):
    wallet = await harness.wallet("Trading Bot")
    body = await _provision(harness, wallet["id"], expiresIn=600)
    path = harness.state.data_dir / "mcp-tokens" / wallet["id"]
    assert body["tokenPath"] == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    claims = decode_unverified(path.read_text())
    assert claims["sub"] == body["sessionId"] and claims["exp"] == body["expiresAt"]
    assert "token" not in body and path.read_text() not in str(body)
    entry = body["claudeDesktopConfig"]["mcpServers"]["waiaas-trading-bot"]
    assert entry["env"]["WAIAAS_WALLET_ID"] == wallet["id"]
    assert entry["env"]["WAIAAS_DATA_DIR"] == str(harness.state.data_dir)
    assert os.path.isabs(entry["command"])
    assert body["walletName"] == "Trading Bot"


async def test_provisioning_twice_leaves_one_active_mcp_session_and_the_newest_token(harness):
    wallet = await harness.wallet()
    first = await _provision(harness, wallet["id"])
    second = await _provision(harness, wallet["id"])
    sessions = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    active = [s["id"] for s in sessions if s["status"] == "ACTIVE" and s["label"] == "mcp"]
    assert active == [second["sessionId"]]
    token = (harness.state.data_dir / "mcp-tokens" / wallet["id"]).read_text()
    assert decode_unverified(token)["sub"] == second["sessionId"] != first["sessionId"]
    assert (await harness.as_agent(token)).status_code == 200


async def test_provisioning_an_unknown_wallet_writes_nothing(harness):
    response = await harness.http.post(
        "/v1/mcp/tokens",
        json={"walletId": "00000000-0000-4000-8000-000000000000"},
        headers=MASTER,
    )
    assert response.json()["code"] == "WALLET_NOT_FOUND"
    assert not (harness.state.data_dir / "mcp-tokens").exists()


async def test_provisioning_refuses_a_path_like_wallet_id(harness):
    response = await harness.http.post(
        "/v1/mcp/tokens", json={"walletId": "../../etc/x"}, headers=MASTER
    )
    assert (response.status_code, response.json()["code"]) == (400, "INVALID_REQUEST")


async def test_renewing_an_mcp_session_keeps_its_token_file_current(harness):
    wallet = await harness.wallet()
    body = await _provision(harness, wallet["id"], expiresIn=100)
    path = harness.state.data_dir / "mcp-tokens" / wallet["id"]
    old = path.read_text()
    harness.clock.advance(50)
    response = await harness.renew({"id": body["sessionId"]}, token=old)
    assert response.status_code == 200
    # The file holds the new token even if the answer never reaches the MCP server.
    assert path.read_text() == response.json()["token"] != old


async def test_renewing_another_session_touches_no_token_file(harness):
    wallet = await harness.wallet()
    session = await harness.session(wallet["id"], expiresIn=100, label="agent")
    harness.clock.advance(50)
    assert (await harness.renew(session)).status_code == 200
    assert not (harness.state.data_dir / "mcp-tokens").exists()


async def test_a_new_mcp_session_keeps_the_constraints_of_the_one_it_replaces(harness):
    wallet = await harness.wallet()
    limits = {"maxAmountPerTx": "1000"}
    for path in ("/v1/mcp/tokens", "/v1/sessions"):
        body = {"walletId": wallet["id"], "constraints": limits}
        if path == "/v1/sessions":
            body["label"] = "mcp"
        first = await harness.http.post(path, json=body, headers=MASTER)
        assert first.status_code == 201, first.text
        again = {"walletId": wallet["id"], **({"label": "mcp"} if path == "/v1/sessions" else {})}
        second = await harness.http.post(path, json=again, headers=MASTER)
        assert second.status_code == 201, second.text
        listed = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
        active = [s for s in listed if s["status"] == "ACTIVE" and s["label"] == "mcp"]
        assert [s["constraints"] for s in active] == [limits]


async def test_empty_constraints_clear_the_inherited_ones(harness):
    wallet = await harness.wallet()
    body = {"walletId": wallet["id"], "constraints": {"maxAmountPerTx": "1000"}}
    assert (await harness.http.post("/v1/mcp/tokens", json=body, headers=MASTER)).status_code == 201
    cleared = {"walletId": wallet["id"], "constraints": {}}
    assert (
        await harness.http.post("/v1/mcp/tokens", json=cleared, headers=MASTER)
    ).status_code == 201
    listed = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    active = [s for s in listed if s["status"] == "ACTIVE"]
    assert [s["constraints"] for s in active] == [None]


def _sha(token):
    return hashlib.sha256(token.encode()).hexdigest()


async def _provisioned_and_renewed(harness):
    wallet = await harness.wallet()
    body = await _provision(harness, wallet["id"], expiresIn=100)
    path = harness.state.data_dir / "mcp-tokens" / wallet["id"]
    old = path.read_text()
    harness.clock.advance(50)
    response = await harness.renew({"id": body["sessionId"]}, token=old)
    assert response.status_code == 200
    return path, old, response.json()["token"]


async def test_a_token_file_changes_only_once_its_token_is_committed(harness, monkeypatch):
    seen = []
    move = token_files._move_into_place

    def checked_move(pending, target):
        with sqlite3.connect(harness.state.data_dir / "waiaas.db") as db:
            committed = {row[0] for row in db.execute("SELECT token_hash FROM sessions")}
        seen.append(_sha(pending.read_text()) in committed)
        move(pending, target)

    monkeypatch.setattr(token_files, "_move_into_place", checked_move)
    await _provisioned_and_renewed(harness)
    assert seen == [True, True]  # the provisioning, then the renewal


async def test_a_committed_token_left_pending_by_a_kill_is_put_in_place_at_start(harness):
    path, old, new = await _provisioned_and_renewed(harness)
    # As if killed after the commit, before the rename: the file still holds the old token.
    pending_path(path).write_text(new)
    path.write_text(old)
    assert await settle_pending(harness.state.data_dir, harness.state.db) == 1
    assert path.read_text() == new and not pending_path(path).exists()
    assert (await harness.as_agent(new)).status_code == 200


async def test_a_pending_token_never_committed_is_removed_at_start(harness):

    path, _, current = await _provisioned_and_renewed(harness)
    claims = decode_unverified(current)
    # As if killed before the commit: signed, written pending, never committed.
    uncommitted = sign_session_token(
        harness.state.jwt_secret, claims["sub"], claims["wlt"], claims["iat"], claims["exp"]
    )
    pending_path(path).write_text(uncommitted)
    assert await settle_pending(harness.state.data_dir, harness.state.db) == 0
    assert path.read_text() == current and not pending_path(path).exists()


async def test_a_garbage_pending_file_is_removed_at_start(harness):
    path, _, current = await _provisioned_and_renewed(harness)
    pending_path(path).write_bytes(b"\xff\x00 not a token")
    assert await settle_pending(harness.state.data_dir, harness.state.db) == 0
    assert path.read_text() == current and not pending_path(path).exists()
