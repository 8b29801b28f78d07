import json

from tests.cli.checks import assert_one_line_error, ok


def test_create_prints_the_new_wallets_id_network_and_address(waiaas, daemon):
    out = ok(waiaas("wallet", "create", "trading bot"))
    [wallet] = daemon.api("GET", "/v1/wallets").json()["items"]
    assert f"Created wallet trading bot ({wallet['id']})" in out
    assert "Network: local" in out and f"Address: {wallet['address']}" in out


def test_create_with_network_and_json(waiaas):
    wallet = json.loads(ok(waiaas("wallet", "create", "main", "--network", "local", "--json")))
    assert wallet["name"] == "main" and wallet["network"] == "local"
    assert wallet["status"] == "ACTIVE" and wallet["chain"] == "solana"


def test_create_refuses_an_unknown_network_as_a_usage_error(waiaas):
    result = waiaas("wallet", "create", "main", "--network", "moonnet")
    assert result.returncode == 2 and "moonnet" in result.stderr


def test_list_shows_every_wallet_in_a_table(waiaas, daemon):
    a, b = daemon.create_wallet("alpha"), daemon.create_wallet("beta")
    lines = ok(waiaas("wallet", "list")).splitlines()
    assert lines[0].split() == ["ID", "NAME", "NETWORK", "STATUS", "ADDRESS", "CREATED"]
    assert any(a["id"] in line and "alpha" in line and a["address"] in line for line in lines)
    assert any(b["id"] in line and "beta" in line for line in lines)


def test_list_json_is_the_daemons_wallets(waiaas, daemon):
    created = daemon.create_wallet("alpha")
    assert json.loads(ok(waiaas("wallet", "list", "--json"))) == [created]


def test_list_without_wallets_says_how_to_create_one(waiaas):
    assert "waiaas wallet create NAME" in ok(waiaas("wallet", "list"))
    assert json.loads(ok(waiaas("wallet", "list", "--json"))) == []


def test_list_with_a_wrong_password_says_it_is_wrong(waiaas):
    result = waiaas("wallet", "list", env={"WAIAAS_MASTER_PASSWORD": "nope"})
    assert_one_line_error(result, "master password is wrong")
