import json

from tests.cli.checks import assert_one_line_error, fake_error, fake_ok, ok


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
    assert lines[0].split() == [
        "ID",
        "NAME",
        "CHAIN",
        "NETWORK",
        "STATUS",
        "BALANCES",
        "ADDRESS",
        "CREATED",
    ]
    assert any(a["id"] in line and "alpha" in line and a["address"] in line for line in lines)
    assert any("alpha" in line and "solana" in line for line in lines)
    assert any(b["id"] in line and "beta" in line for line in lines)


def test_create_an_evm_wallet_with_chain_evm(waiaas):
    out = ok(waiaas("wallet", "create", "eth", "--chain", "evm"))
    assert "Chain:   evm" in out and "Network: evm-local" in out
    address = next(line.split()[-1] for line in out.splitlines() if line.startswith("Address"))
    assert address.startswith("0x") and len(address) == 42
    listed = ok(waiaas("wallet", "list")).splitlines()
    assert any("eth" in line and " evm " in line and "evm-local" in line for line in listed)
    refused = waiaas("wallet", "create", "x", "--chain", "evm", "--network", "devnet")
    assert refused.returncode == 1 and "devnet is a solana network" in refused.stderr


def test_list_json_is_the_daemons_wallets(waiaas, daemon):
    created = daemon.create_wallet("alpha")
    assert json.loads(ok(waiaas("wallet", "list", "--json"))) == [created]


def test_list_without_wallets_says_how_to_create_one(waiaas):
    assert "waiaas wallet create NAME" in ok(waiaas("wallet", "list"))
    assert json.loads(ok(waiaas("wallet", "list", "--json"))) == []


def test_list_with_a_wrong_password_says_it_is_wrong(waiaas):
    result = waiaas("wallet", "list", env={"WAIAAS_MASTER_PASSWORD": "nope"})
    assert_one_line_error(result, "master password is wrong")


# Against the in-process fake (SPEC 13-14 routes) --------------------------------------


def test_suspend_posts_the_reason_and_resume_undoes_it(run_fake, fake):
    wallet = fake.add_wallet("main")
    out = fake_ok(run_fake("wallet", "suspend", "main", "--reason", "odd sends"))
    [call] = fake.sent("POST", f"/v1/wallets/{wallet['id']}/suspend")
    assert call.master and call.body == {"reason": "odd sends"}
    assert "status SUSPENDED" in out
    assert "status ACTIVE" in fake_ok(run_fake("wallet", "resume", wallet["id"]))
    assert fake.sent("POST", f"/v1/wallets/{wallet['id']}/resume")[0].body == {}


def test_airdrop_of_sol_sends_lamports(run_fake, fake):
    wallet = fake.add_wallet("main")
    out = fake_ok(run_fake("wallet", "airdrop", "main", "1.5"))
    [call] = fake.sent("POST", f"/v1/wallets/{wallet['id']}/airdrop")
    assert call.body == {"amount": "1500000000"}
    assert "Airdropped 1.5 SOL to main" in out
    assert fake.sent("GET", "/v1/tokens") == []


def test_airdrop_of_a_token_takes_its_decimals_from_the_registry_of_the_wallets_network(
    run_fake, fake
):
    wallet = fake.add_wallet("main")
    out = fake_ok(run_fake("wallet", "airdrop", "main", "12.5", "--token", "usdc"))
    [lookup] = fake.sent("GET", "/v1/tokens")
    assert lookup.params == {"network": "local"}
    [call] = fake.sent("POST", f"/v1/wallets/{wallet['id']}/airdrop")
    assert call.body == {"amount": "12500000", "token": "USDC"}
    assert "Airdropped 12.5 USDC" in out


def test_airdrop_with_more_decimals_than_the_token_has_is_refused_before_sending(run_fake, fake):
    wallet = fake.add_wallet("main")
    result = run_fake("wallet", "airdrop", "main", "0.0000001", "--token", "USDC")
    assert result.exit_code == 2 and "this asset has only 6" in result.stderr
    assert fake.sent("POST", f"/v1/wallets/{wallet['id']}/airdrop") == []


def test_airdrop_of_an_unknown_token_lists_the_known_ones(run_fake, fake):
    fake.add_wallet("main")
    fake_error(
        run_fake("wallet", "airdrop", "main", "1", "--token", "BONK"),
        "no token 'BONK' on local",
        "USDC",
    )


def test_airdrop_of_sol_on_a_real_daemon_credits_the_exact_lamports(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    out = ok(waiaas("wallet", "airdrop", "main", "1.000000001"))
    assert "Airdropped 1.000000001 SOL to main" in out
    session = daemon.create_session(wallet["id"])
    with daemon.client() as http:
        balance = http.get(
            "/v1/wallet/balance", headers={"Authorization": f"Bearer {session['token']}"}
        ).json()
    assert balance["balance"] == "1000000001"
