import json

import pytest

from tests.cli.checks import fake_error, fake_ok
from tests.cli.fake_daemon import ADDRESS


def test_set_sends_sol_as_lamport_strings_and_durations_as_seconds(run_fake, fake):
    wallet = fake.add_wallet("main")
    out = fake_ok(
        run_fake(
            "policy",
            "set",
            "main",
            "--instant-max",
            "0.1",
            "--notify-max",
            "1",
            "--delay-max",
            "5.5",
            "--delay",
            "15m",
            "--approval-timeout",
            "1h",
            "--daily-limit",
            "10",
            "--monthly-limit",
            "100.000000001",
            "--allow-recipient",
            ADDRESS,
            "--max-sends-per-hour",
            "60",
        )
    )
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.master and put.body == {
        "instantMax": "100000000",
        "notifyMax": "1000000000",
        "delayMax": "5500000000",
        "delaySeconds": 900,
        "approvalTimeout": 3600,
        "dailyLimit": "10000000000",
        "monthlyLimit": "100000000001",
        "allowedRecipients": [ADDRESS],
        "maxSendsPerHour": 60,
    }
    assert "sent at once up to: 0.1 SOL  (instantMax)" in out
    assert "delay before a DELAY-tier send: 15m" in out
    assert "Version: 1" in out


def test_set_changes_only_the_rules_it_names(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.policies[wallet["id"]] = {"version": 3, "policy": {"dailyLimit": "7", "tokens": {}}}
    fake_ok(run_fake("policy", "set", wallet["id"], "--instant-max", "0.5"))
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == {"dailyLimit": "7", "tokens": {}, "instantMax": "500000000"}


def test_set_from_a_file_starts_from_its_document_and_applies_the_options_over_it(
    run_fake, fake, tmp_path
):
    wallet = fake.add_wallet("main")
    fake.policies[wallet["id"]] = {"version": 1, "policy": {"monthlyLimit": "1"}}
    document = {"instantMax": "5", "autoSuspendAfterDenials": 3}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    fake_ok(run_fake("policy", "set", "main", "--file", str(path), "--delay", "90s"))
    assert fake.sent("GET", f"/v1/wallets/{wallet['id']}/policy") == []
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == document | {"delaySeconds": 90}


@pytest.mark.parametrize("content", ["[1]", "{not json", '{"a": ' + "[" * 100_000 + "}"])
def test_set_refuses_a_file_that_is_not_a_json_object_and_sends_nothing(
    run_fake, fake, tmp_path, content
):
    fake.add_wallet("main")
    path = tmp_path / "policy.json"
    path.write_text(content)
    fake_error(run_fake("policy", "set", "main", "--file", str(path)), str(path))
    assert fake.calls == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--instant-max", "0.0000000001"), "has 10 decimals; this asset has only 9"),
        (("--daily-limit", "-1"), "cannot be negative"),
        (("--notify-max", "1e3"), "is not an amount"),
        (("--delay", "soon"), "is not a duration"),
        (("--allow-recipient", "not-an-address"), "is not a Solana address"),
        ((), "name at least one rule"),
    ],
)
def test_set_with_a_bad_value_is_a_usage_error_and_sends_nothing(run_fake, fake, args, says):
    fake.add_wallet("main")
    result = run_fake("policy", "set", "main", *args)
    assert result.exit_code == 2 and says in result.stderr, result.stderr
    assert fake.calls == []


def test_show_prints_amounts_in_sol_and_json_prints_the_api_answer(run_fake, fake):
    wallet = fake.add_wallet("main")
    policy = {"instantMax": "250000000", "approvalTimeout": 7200, "allowedRecipients": [ADDRESS]}
    fake.policies[wallet["id"]] = {"version": 2, "policy": policy}
    out = fake_ok(run_fake("policy", "show", "main"))
    assert f"Wallet:  main ({wallet['id']})" in out and "Version: 2" in out
    assert "sent at once up to: 0.25 SOL  (instantMax)" in out
    assert "an unapproved send expires after: 2h  (approvalTimeout)" in out
    assert f"only to: {ADDRESS}  (allowedRecipients)" in out
    answer = json.loads(fake_ok(run_fake("policy", "show", "main", "--json")))
    assert answer["policy"] == policy and answer["version"] == 2


def test_show_of_a_wallet_without_policy_says_there_are_no_rules(run_fake, fake):
    fake.add_wallet("main")
    assert "Rules:   none" in fake_ok(run_fake("policy", "show", "main"))


def test_clear_deletes_the_policy(run_fake, fake):
    wallet = fake.add_wallet("main")
    out = fake_ok(run_fake("policy", "clear", "main"))
    assert len(fake.sent("DELETE", f"/v1/wallets/{wallet['id']}/policy")) == 1
    assert f"Cleared the policy of main ({wallet['id']})" in out


def test_a_wallet_is_found_by_its_id_in_any_case(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake_ok(run_fake("policy", "show", wallet["id"].upper()))
    assert len(fake.sent("GET", f"/v1/wallets/{wallet['id']}/policy")) == 1


def test_a_name_two_wallets_share_asks_for_the_id(run_fake, fake):
    a, b = fake.add_wallet("twin"), fake.add_wallet("twin")
    fake_error(
        run_fake("policy", "show", "twin"), "several wallets are named 'twin'", a["id"], b["id"]
    )


def test_an_unknown_wallet_points_at_wallet_list(run_fake, fake):
    fake.add_wallet("main")
    fake_error(
        run_fake("policy", "show", "nope"),
        "no wallet has the id or name 'nope'",
        "waiaas wallet list",
    )


def test_a_policy_the_daemon_refuses_is_one_line_naming_the_field(run_fake, fake):
    from tests.cli.fake_daemon import error

    wallet = fake.add_wallet("main")
    refusal = error(400, "INVALID_REQUEST", "notifyMax: must not be below instantMax")
    fake.overrides[("PUT", f"/v1/wallets/{wallet['id']}/policy")] = refusal
    result = run_fake("policy", "set", "main", "--notify-max", "0.01")
    fake_error(result, "notifyMax: must not be below instantMax", "INVALID_REQUEST")


def test_a_ceiling_of_zero_is_a_rule_not_an_error(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake_ok(run_fake("policy", "set", "main", "--instant-max", "0"))
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == {"instantMax": "0"}


def test_x402_flags_set_hosts_any_host_and_a_ceiling_in_whole_tokens(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.policies[wallet["id"]] = {"version": 1, "policy": {"dailyLimit": "7"}}
    usdc = next(t for t in fake.tokens if t["symbol"] == "USDC" and t["network"] == "local")
    out = fake_ok(
        run_fake(
            "policy",
            "set",
            "main",
            "--x402-allow-host",
            "API.example.com",
            "--x402-allow-host",
            "*.data.example:8443",
            "--x402-max-per-request",
            "0.5",
        )
    )
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == {
        "dailyLimit": "7",
        "x402": {
            "allowedHosts": ["api.example.com", "*.data.example:8443"],
            "maxPerRequest": {usdc["mint"]: "500000"},
        },
    }
    assert "pay only: api.example.com, *.data.example:8443  (x402.allowedHosts)" in out


def test_x402_ceiling_with_too_many_decimals_is_a_usage_error(run_fake, fake):
    wallet = fake.add_wallet("main")
    result = run_fake("policy", "set", "main", "--x402-max-per-request", "0.0000001")
    assert result.exit_code != 0
    assert "decimals" in result.output + (result.stderr or "")
    assert not fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")


def test_set_with_a_token_sets_its_own_ceilings_in_its_units(run_fake, fake):
    # The bug of issue 26: `--instant-max 0.1` bound SOL only, so a 0.25 USDC payment
    # went INSTANT. With --token the ceilings are the token's, in USDC.
    wallet = fake.add_wallet("main")
    out = fake_ok(
        run_fake(
            "policy", "set", "main", "--token", "usdc", "--instant-max", "0.1", "--daily-limit", "5"
        )
    )
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == {"tokens": {ADDRESS: {"instantMax": "100000", "dailyLimit": "5000000"}}}
    assert "USDC: sent at once up to: 0.1 USDC  (tokens.USDC.instantMax)" in out
    assert "base units" not in out and "Note:" not in out


def test_set_in_dollars_over_every_token(run_fake, fake):
    wallet = fake.add_wallet("main")
    out = fake_ok(
        run_fake("policy", "set", "main", "--usd-daily", "50", "--usd-instant-max", "$2.5")
    )
    [put] = fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy")
    assert put.body == {"usd": {"instantMax": "2.5", "dailyLimit": "50"}}
    assert "at most per rolling 24 h, every token (more needs approval): $50.00" in out
    assert "sent at once up to: $2.50  (usd.instantMax)" in out


def test_sol_amounts_say_they_bind_sol_only(run_fake, fake):
    fake.add_wallet("main")
    out = fake_ok(run_fake("policy", "set", "main", "--instant-max", "0.1"))
    assert "Note: these amounts bind SOL sends only" in out and "--token" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--token", "USDC", "--instant-max", "0.1234567"],
            "has 7 decimals; this asset has only 6",
        ),
        (["--token", "DOGE", "--instant-max", "1"], "DOGE is not in the daemon's token registry"),
        (["--usd-daily", "1.0000001"], "--usd-daily"),
        (["--usd-daily", "-5"], "--usd-daily"),
    ],
)
def test_bad_token_or_dollar_amounts_are_usage_errors_and_write_nothing(
    run_fake, fake, args, message
):
    wallet = fake.add_wallet("main")
    result = run_fake("policy", "set", "main", *args)
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert fake.sent("PUT", f"/v1/wallets/{wallet['id']}/policy") == []


def test_show_prints_tokens_in_their_units_and_dollar_rules_in_dollars(run_fake, fake):
    wallet = fake.add_wallet("main")
    unknown = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
    fake.policies[wallet["id"]] = {
        "version": 2,
        "policy": {
            "instantMax": "250000000",
            "tokens": {ADDRESS: {"notifyMax": "12500000"}, unknown: {"instantMax": "7"}},
            "usd": {"dailyLimit": "50", "chatApprovalMax": "12.5"},
        },
    }
    out = fake_ok(run_fake("policy", "show", "main"))
    assert "sent at once up to: 0.25 SOL  (instantMax)" in out
    assert "USDC: sent and you are notified up to: 12.5 USDC  (tokens.USDC.notifyMax)" in out
    assert f"7 base units of {unknown} (not in the registry)" in out
    assert "a Telegram tap may approve up to: $12.50  (usd.chatApprovalMax)" in out
