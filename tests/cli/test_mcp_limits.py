"""`waiaas mcp setup` limits: sent as the session's constraints, reported with the policy."""

from tests.cli.checks import fake_ok, ok
from tests.cli.fake_daemon import ADDRESS

OTHER = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"


def test_limits_become_the_sessions_constraints_in_lamports(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake_ok(
        run_fake(
            "mcp",
            "setup",
            "--max-per-tx",
            "0.01",
            "--max-per-day",
            "0.5",
            "--allow-recipient",
            ADDRESS,
            "--allow-recipient",
            OTHER,
            "--allow-recipient",
            ADDRESS,
        )
    )
    [call] = fake.sent("POST", "/v1/sessions")
    assert call.master and call.body == {
        "walletId": wallet["id"],
        "label": "mcp",
        "constraints": {
            "maxAmountPerTx": "10000000",
            "maxAmountPerDay": "500000000",
            "allowedRecipients": [ADDRESS, OTHER],
        },
    }


def test_no_limits_clears_them_and_no_option_sends_no_constraints(run_fake, fake):
    fake.add_wallet("main")
    fake_ok(run_fake("mcp", "setup", "--no-limits"))
    fake_ok(run_fake("mcp", "setup"))
    cleared, kept = fake.sent("POST", "/v1/sessions")
    assert cleared.body["constraints"] == {}
    assert "constraints" not in kept.body  # the daemon keeps the replaced session's


def test_the_report_shows_the_limits_in_force_as_the_agent_sees_them(run_fake, fake):
    fake.add_wallet("main")
    fake.agent_view = {
        "policy": {"instantMax": "100000000", "approvalTimeout": 3600},
        "version": 4,
        "constraints": {"maxAmountPerTx": "10000000"},
        "remaining": {},
    }
    result = run_fake("mcp", "setup", "--max-per-tx", "0.01")
    out = fake_ok(result)
    [view] = fake.sent("GET", "/v1/wallet/policy")
    [created] = fake.sent("POST", "/v1/sessions")
    assert created.body["constraints"] == {"maxAmountPerTx": "10000000"}
    assert view.bearer.startswith("wai_sess_fake.")  # the new session's token
    assert "Session limits:\n  at most per send: 0.01 SOL  (maxAmountPerTx)" in out
    assert "Wallet policy:\n  sent at once up to: 0.1 SOL  (instantMax)" in out
    assert "Warning" not in result.stderr
    assert view.bearer not in out + result.stderr


def test_the_report_warns_when_nothing_limits_the_session(run_fake, fake):
    fake.add_wallet("main")
    fake.agent_view = {"policy": {}, "version": 0, "constraints": None, "remaining": {}}
    result = run_fake("mcp", "setup")
    out = fake_ok(result)
    assert "Session limits: none" in out and "Wallet policy:  none" in out
    assert "Warning: nothing limits wallet main" in result.stderr
    assert "--max-per-tx" in result.stderr and "waiaas policy set" in result.stderr


def test_without_the_agents_view_the_report_reads_the_owners_policy(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.policies[wallet["id"]] = {"version": 1, "policy": {"dailyLimit": "2000000000"}}
    out = fake_ok(run_fake("mcp", "setup", "--max-per-day", "1"))
    assert len(fake.sent("GET", f"/v1/wallets/{wallet['id']}/policy")) == 1
    assert "at most per rolling 24 h: 1 SOL  (maxAmountPerDay)" in out
    assert "at most per rolling 24 h (more needs approval): 2 SOL  (dailyLimit)" in out


def test_no_limits_with_a_limit_is_a_usage_error_before_any_request(run_fake, fake):
    result = run_fake("mcp", "setup", "--no-limits", "--max-per-tx", "1")
    assert result.exit_code == 2 and "--no-limits cannot be used with" in result.stderr
    assert fake.calls == []


def test_a_limit_with_more_decimals_than_sol_has_is_a_usage_error(run_fake, fake):
    result = run_fake("mcp", "setup", "--max-per-day", "0.0000000001")
    assert result.exit_code == 2 and "this asset has only 9" in result.stderr
    assert fake.calls == []


def test_per_tx_above_per_day_is_a_usage_error(run_fake, fake):
    result = run_fake("mcp", "setup", "--max-per-tx", "2", "--max-per-day", "1")
    assert result.exit_code == 2 and fake.calls == []


# Against a real daemon -----------------------------------------------------------------


def _send(daemon, token, lamports):
    with daemon.client() as http:
        return http.post(
            "/v1/transactions/send",
            json={"to": OTHER, "amount": str(lamports)},
            headers={"Authorization": f"Bearer {token}"},
        )


def test_max_per_tx_in_sol_refuses_a_bigger_send_of_the_mcp_session(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    funded = daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(10**9)})
    assert funded.status_code == 201, funded.text
    out = ok(waiaas("mcp", "setup", "--max-per-tx", "0.01"))
    assert "at most per send: 0.01 SOL  (maxAmountPerTx)" in out
    token = (daemon.data_dir / "mcp-tokens" / wallet["id"]).read_text()
    refused = _send(daemon, token, 10_000_001)
    assert refused.status_code == 403 and refused.json()["code"] == "CONSTRAINT_VIOLATED"
    assert _send(daemon, token, 10_000_000).status_code in (201, 202)


def test_a_failed_read_of_the_limits_warns_and_still_prints_the_snippet(run_fake, fake):
    from tests.cli.fake_daemon import error

    fake.add_wallet("main")
    fake.overrides[("GET", "/v1/wallet/policy")] = error(502, "CHAIN_ERROR", "Node down.")
    result = run_fake("mcp", "setup")
    out = fake_ok(result)
    assert "Warning: could not read the limits in force: Node down. (CHAIN_ERROR)" in result.stderr
    assert '"mcpServers"' in out


def test_dollar_budgets_tokens_and_networks_become_the_sessions_constraints(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake_ok(
        run_fake(
            "mcp",
            "setup",
            "--budget",
            "10/day",
            "--budget",
            "$2.5/tx",
            "--budget",
            "50/total",
            "--tokens",
            "usdc",
            "--networks",
            "local,devnet",
            "--expires-in",
            "7d",
        )
    )
    [call] = fake.sent("POST", "/v1/sessions")
    assert call.body == {
        "walletId": wallet["id"],
        "label": "mcp",
        "expiresIn": 7 * 86400,
        "constraints": {
            "maxUsdPerDay": "10",
            "maxUsdPerTx": "2.5",
            "maxUsdTotal": "50",
            "allowedNetworks": ["local", "devnet"],
            "allowedTokens": [ADDRESS],
            "allowNative": False,
        },
    }


def test_naming_the_chains_own_coin_in_tokens_allows_it(run_fake, fake):
    fake.add_wallet("main")
    fake_ok(run_fake("mcp", "setup", "--tokens", "SOL", "--tokens", "USDC"))
    [call] = fake.sent("POST", "/v1/sessions")
    assert call.body["constraints"] == {"allowedTokens": [ADDRESS], "allowNative": True}


def test_bad_budgets_and_unknown_tokens_are_one_line_errors(run_fake, fake):
    fake.add_wallet("main")
    for bad in ("10", "10/week", "-1/day", "1.0000001/day", "x/tx"):
        result = run_fake("mcp", "setup", "--budget", bad)
        assert result.exit_code == 2 and "--budget" in result.stderr, result.stderr
    mixed = run_fake("mcp", "setup", "--budget", "5/tx", "--budget", "1/day")
    assert mixed.exit_code == 2 and "more /tx than /day" in mixed.stderr
    both = run_fake("mcp", "setup", "--budget", "5/day", "--no-limits")
    assert both.exit_code == 2
    unknown = run_fake("mcp", "setup", "--tokens", "DOGE")
    assert unknown.exit_code == 1 and "DOGE is not in the local token registry" in unknown.stderr
    assert fake.sent("POST", "/v1/sessions") == []
