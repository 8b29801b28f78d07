"""No password, session token or secret key ever reaches the audit log or the outbox."""

from __future__ import annotations

import pytest

from tests.daemon.conftest import MASTER, PASSWORD
from tests.daemon.policy_support import SOL, funded, recipient, send, set_policy
from waiaas_daemon.domain import wallets

pytestmark = pytest.mark.anyio


async def test_audit_and_outbox_rows_hold_no_password_token_or_secret_key(harness):
    wallet, headers, session = await funded(harness)
    bob = await recipient(harness)
    await set_policy(harness, wallet["id"], instantMax=str(SOL), notifyMax=str(2 * SOL))
    assert (await send(harness, headers, bob, SOL)).status_code == 201
    assert (await send(harness, headers, bob, 3 * SOL // 2)).status_code == 201
    assert (await send(harness, headers, bob, 5 * SOL)).status_code == 202
    wrong = {"X-Master-Password": "not the password"}
    assert (await harness.http.get("/v1/wallets", headers=wrong)).status_code == 401
    assert (await harness.http.get("/v1/audit", headers=MASTER)).json()["items"]

    row = await harness.state.db.get_wallet(wallet["id"])
    keypair = await wallets.unlock_signer(harness.state, row)
    secret = bytes(keypair)
    token = session["token"]
    forbidden = {
        "master password": PASSWORD.encode(),
        "wrong password": b"not the password",
        "session token": token.encode(),
        "token's JWT": token.removeprefix("wai_sess_").encode(),
        "secret key (hex)": secret[:32].hex().encode(),
        "keypair (base58)": str(keypair).encode(),
        "jwt secret (hex)": harness.state.jwt_secret.hex().encode(),
    }
    reader = harness.state.db.reader
    dumped = b""
    for table in ("audit_log", "notification_events", "notification_deliveries"):
        rows = await reader.execute_fetchall(f"SELECT * FROM {table}")  # noqa: S608
        dumped += repr([tuple(r) for r in rows]).encode()
    assert b"send" in dumped  # the tables were read, and they hold the sends
    for what, value in forbidden.items():
        assert value not in dumped, what
    assert secret[:32] not in dumped
