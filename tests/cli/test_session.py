import json
import uuid

from tests.cli.checks import assert_one_line_error, ok


def test_list_shows_sessions_with_label_status_and_expiry(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    created = daemon.create_session(wallet["id"], label="mcp")
    lines = ok(waiaas("session", "list")).splitlines()
    assert lines[0].split() == ["ID", "WALLET", "LABEL", "STATUS", "EXPIRES", "RENEWALS"]
    [row] = [line.split() for line in lines[1:]]
    assert row[:4] == [created["id"], "main", "mcp", "ACTIVE"]  # the wallet by its name
    assert row[4].endswith("Z") and row[5] == "0/30"


def test_list_for_one_wallet_as_json(waiaas, daemon):
    a, b = daemon.create_wallet("a"), daemon.create_wallet("b")
    daemon.create_session(a["id"])
    mine = daemon.create_session(b["id"])
    items = json.loads(ok(waiaas("session", "list", "--wallet", b["id"], "--json")))
    assert [s["id"] for s in items] == [mine["id"]]
    assert items[0]["status"] == "ACTIVE" and items[0]["walletId"] == b["id"]


def test_list_without_sessions_says_so(waiaas, daemon):
    assert "No sessions found." in ok(waiaas("session", "list"))


def test_list_for_an_unknown_wallet_id_is_an_error(waiaas, daemon):
    unknown = str(uuid.uuid4())
    result = waiaas("session", "list", "--wallet", unknown)
    assert_one_line_error(result, "no wallet has the id or name")


def test_list_for_a_wallet_that_is_neither_an_id_nor_a_name_is_an_error(waiaas, daemon):
    assert_one_line_error(waiaas("session", "list", "--wallet", "../x"), "no wallet has the id")


def test_list_takes_a_wallet_name_and_names_the_wallet(waiaas, daemon):
    a, b = daemon.create_wallet("alpha"), daemon.create_wallet("beta")
    daemon.create_session(a["id"], label="claude")
    mine = daemon.create_session(b["id"], label="cursor")
    out = ok(waiaas("session", "list", "--wallet", "beta"))
    assert mine["id"] in out and "beta" in out and "cursor" in out
    assert "alpha" not in out and b["id"] not in out


def test_revoke_revokes_and_the_token_stops_working(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    created = daemon.create_session(wallet["id"])
    assert f"Revoked session {created['id']}" in ok(waiaas("session", "revoke", created["id"]))
    with daemon.client() as http:
        auth = {"Authorization": f"Bearer {created['token']}"}
        assert http.get("/v1/wallet/address", headers=auth).status_code == 401
    items = json.loads(ok(waiaas("session", "list", "--json")))
    assert [s["status"] for s in items] == ["REVOKED"]


def test_revoke_twice_is_fine(waiaas, daemon):
    created = daemon.create_session(daemon.create_wallet("main")["id"])
    ok(waiaas("session", "revoke", created["id"]))
    ok(waiaas("session", "revoke", created["id"]))


def test_revoke_of_an_unknown_session_is_one_line_error(waiaas):
    result = waiaas("session", "revoke", str(uuid.uuid4()))
    assert_one_line_error(result, "SESSION_NOT_FOUND")


def test_revoke_refuses_an_id_that_could_reach_another_route(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    result = waiaas("session", "revoke", f"../wallets/{wallet['id']}")
    assert_one_line_error(result, "not a session id")
    assert daemon.api("GET", f"/v1/wallets/{wallet['id']}").json()["status"] == "ACTIVE"
