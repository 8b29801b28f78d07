import json
import os
import re
import stat
import time
import uuid
from pathlib import Path

import anyio
import click
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.cli.checks import assert_one_line_error, ok
from waiaas_cli.commands.mcp import choose_wallets
from waiaas_cli.output import iso_time
from waiaas_core.claude import claude_config_path


def _wallet(name, status="ACTIVE"):
    return {"id": str(uuid.uuid4()), "name": name, "status": status}


def test_the_only_active_wallet_is_chosen_without_flags():
    main = _wallet("main")
    assert choose_wallets([_wallet("old", "TERMINATED"), main], None, False) == [main]


def test_no_wallets_is_an_error_that_says_how_to_create_one():
    with pytest.raises(click.ClickException, match=r"No wallets found.*waiaas wallet create"):
        choose_wallets([_wallet("gone", "TERMINATED")], None, False)


def test_several_wallets_without_a_choice_lists_them_and_asks_for_wallet_or_all():
    a, b = _wallet("a"), _wallet("b")
    with pytest.raises(click.ClickException) as caught:
        choose_wallets([a, b], None, False)
    message = caught.value.message
    assert f"{a['id']} (a)" in message and f"{b['id']} (b)" in message
    assert "--wallet" in message and "--all" in message


def test_all_takes_every_active_wallet():
    a, b = _wallet("a"), _wallet("b")
    assert choose_wallets([a, _wallet("x", "TERMINATED"), b], None, True) == [a, b]


def test_wallet_id_is_matched_whatever_its_case():
    a, b = _wallet("a"), _wallet("b")
    assert choose_wallets([a, b], b["id"].upper(), False) == [b]


def test_unknown_wallet_id_lists_the_known_ones():
    a = _wallet("a")
    with pytest.raises(click.ClickException) as caught:
        choose_wallets([a], "nope", False)
    assert caught.value.message == f"unknown wallet id or name nope; known wallets: {a['id']} (a)."


def test_terminated_wallet_cannot_be_set_up():
    gone = _wallet("gone", "TERMINATED")
    with pytest.raises(click.ClickException, match="is terminated"):
        choose_wallets([gone], gone["id"], False)


def test_wallet_and_all_together_are_a_usage_error(cli, refused_url):
    result = cli("mcp", "setup", "--wallet", str(uuid.uuid4()), "--all", "--base-url", refused_url)
    assert result.returncode == 2
    assert "--wallet and --all cannot be used together" in result.stderr


def test_unreachable_daemon_names_the_url_and_the_serve_command(cli, refused_url, tmp_path):
    result = cli("mcp", "setup", "--base-url", refused_url, "--data-dir", str(tmp_path))
    assert_one_line_error(result, refused_url, "waiaas-daemon serve")
    assert not (tmp_path / "mcp-tokens").exists()


def test_expires_in_must_be_positive(cli, refused_url):
    result = cli("mcp", "setup", "--expires-in", "0", "--base-url", refused_url)
    assert result.returncode == 2 and "--expires-in" in result.stderr


# Against a real daemon ----------------------------------------------------------------


def _snippet(stdout):
    """The Claude Desktop snippet: the JSON object printed after the report lines."""
    start = stdout.index("\n{\n") + 1
    snippet, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return snippet


def _desktop_config(home):
    return claude_config_path(env={"HOME": str(home)}, home=home)


def _active_mcp_sessions(daemon, wallet_id):
    items = daemon.api("GET", "/v1/sessions", params={"walletId": wallet_id}).json()["items"]
    return [s for s in items if s["label"] == "mcp" and s["status"] == "ACTIVE"]


def _address_with(daemon, token):
    with daemon.client() as http:
        return http.get("/v1/wallet/address", headers={"Authorization": f"Bearer {token}"})


def test_setup_of_the_only_wallet_writes_its_token_0600_and_reports_it(waiaas, daemon, home):
    wallet = daemon.create_wallet("main")
    result = waiaas("mcp", "setup")
    out = ok(result)
    path = daemon.data_dir / "mcp-tokens" / wallet["id"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = path.read_text()
    assert _address_with(daemon, token).json()["walletId"] == wallet["id"]
    assert token not in result.stdout + result.stderr
    [session] = _active_mcp_sessions(daemon, wallet["id"])
    assert f"Wallet:     main ({wallet['id']})" in out
    assert f"Session:    {session['id']}" in out
    assert f"Token file: {path} (mode 0600)" in out
    assert f"Expires:    {iso_time(session['expiresAt'])}" in out
    assert f"Claude Desktop config file: {_desktop_config(home)}" in out
    assert not _desktop_config(home).exists()  # only --write-config touches it


def test_snippet_is_json_with_an_absolute_command_and_the_servers_env(waiaas, daemon):
    wallet = daemon.create_wallet("Trading Bot")
    snippet = _snippet(ok(waiaas("mcp", "setup")))
    [(key, entry)] = snippet["mcpServers"].items()
    assert key == "waiaas-trading-bot"
    command = Path(entry["command"])
    assert command.is_absolute() and command.is_file() and os.access(command, os.X_OK)
    assert entry["env"] == {
        "WAIAAS_DATA_DIR": str(daemon.data_dir),
        "WAIAAS_BASE_URL": daemon.base_url,
        "WAIAAS_WALLET_ID": wallet["id"],
        "WAIAAS_WALLET_NAME": "Trading Bot",
    }


@pytest.mark.anyio
async def test_snippet_command_starts_a_server_that_answers_a_tool_call(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    [entry] = _snippet(ok(waiaas("mcp", "setup")))["mcpServers"].values()
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"])
    with anyio.fail_after(30):
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            result = await session.call_tool("get_address", {})
    assert not result.is_error
    assert json.loads(result.content[0].text) == {
        "walletId": wallet["id"],
        "chain": "solana",
        "network": "local",
        "address": wallet["address"],
    }


def test_setup_twice_succeeds_and_leaves_one_active_mcp_session(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    path = daemon.data_dir / "mcp-tokens" / wallet["id"]
    ok(waiaas("mcp", "setup", "--wallet", wallet["id"]))
    first = path.read_text()
    ok(waiaas("mcp", "setup", "--wallet", wallet["id"]))
    second = path.read_text()
    assert first != second
    assert len(_active_mcp_sessions(daemon, wallet["id"])) == 1
    assert _address_with(daemon, first).status_code == 401
    assert _address_with(daemon, second).status_code == 200


def test_setup_again_on_a_wallet_one_short_of_the_limit_replaces_its_mcp_session(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    for _ in range(4):  # max_sessions_per_wallet is 5: setup's session is the fifth
        daemon.create_session(wallet["id"])
    ok(waiaas("mcp", "setup"))
    ok(waiaas("mcp", "setup"))
    assert len(_active_mcp_sessions(daemon, wallet["id"])) == 1


def test_all_with_three_wallets_whose_slugs_collide_prints_three_distinct_entries(waiaas, daemon):
    wallets = [daemon.create_wallet(name) for name in ("Main", "main!", "spare")]
    out = ok(waiaas("mcp", "setup", "--all"))
    servers = _snippet(out)["mcpServers"]
    assert len(servers) == 3
    assert {e["env"]["WAIAAS_WALLET_ID"] for e in servers.values()} == {w["id"] for w in wallets}
    main_keys = {k for k, e in servers.items() if e["env"]["WAIAAS_WALLET_NAME"] != "spare"}
    assert servers["waiaas-spare"]["env"]["WAIAAS_WALLET_ID"] == wallets[2]["id"]
    assert len(main_keys) == 2 and all(k.startswith("waiaas-main-") for k in main_keys)
    for wallet in wallets:
        assert (daemon.data_dir / "mcp-tokens" / wallet["id"]).is_file()
        assert f"Wallet:     {wallet['name']} ({wallet['id']})" in out


def test_a_wallet_keeps_its_server_name_whether_set_up_alone_or_with_all(waiaas, daemon):
    a, _ = daemon.create_wallet("main"), daemon.create_wallet("Main")
    alone = _snippet(ok(waiaas("mcp", "setup", "--wallet", a["id"])))["mcpServers"]
    together = _snippet(ok(waiaas("mcp", "setup", "--all")))["mcpServers"]
    [key] = alone
    assert together[key] == alone[key]


def test_several_wallets_without_a_choice_lists_them(waiaas, daemon):
    a, b = daemon.create_wallet("alpha"), daemon.create_wallet("beta")
    result = waiaas("mcp", "setup")
    assert_one_line_error(result, f"{a['id']} (alpha)", f"{b['id']} (beta)", "--wallet", "--all")
    assert not (daemon.data_dir / "mcp-tokens").exists()


def test_no_wallets_says_no_wallets_found(waiaas):
    assert_one_line_error(waiaas("mcp", "setup"), "No wallets found")


def test_unknown_wallet_id_is_an_error_listing_the_wallets(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    result = waiaas("mcp", "setup", "--wallet", str(uuid.uuid4()))
    assert_one_line_error(result, "unknown wallet id", f"{wallet['id']} (main)")


def test_wrong_master_password_says_it_is_wrong(waiaas, daemon):
    daemon.create_wallet("main")
    result = waiaas("mcp", "setup", env={"WAIAAS_MASTER_PASSWORD": "nope"})
    assert_one_line_error(result, "master password is wrong")


def test_password_from_the_flag_or_from_stdin_works(waiaas, daemon):
    daemon.create_wallet("main")
    no_env = {"WAIAAS_MASTER_PASSWORD": ""}
    ok(waiaas("mcp", "setup", "--password", daemon.password, env=no_env))
    result = waiaas("mcp", "setup", env=no_env, input=daemon.password + "\n")
    ok(result)
    assert daemon.password not in result.stdout + result.stderr


def test_session_limit_reached_names_the_wallet_and_writes_no_token(waiaas, daemon):
    wallet = daemon.create_wallet("busy")
    for _ in range(5):  # max_sessions_per_wallet
        daemon.create_session(wallet["id"])
    result = waiaas("mcp", "setup")
    assert_one_line_error(result, f"busy ({wallet['id']})", "maximum number of active sessions")
    assert not (daemon.data_dir / "mcp-tokens" / wallet["id"]).exists()


def test_expires_in_sets_the_sessions_lifetime(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    before = int(time.time())
    out = ok(waiaas("mcp", "setup", "--expires-in", "600"))
    [session] = _active_mcp_sessions(daemon, wallet["id"])
    assert before + 600 <= session["expiresAt"] <= int(time.time()) + 600
    assert f"Expires:    {iso_time(session['expiresAt'])}" in out


def test_write_config_keeps_everything_else_backs_up_and_does_not_duplicate(waiaas, daemon, home):
    wallet = daemon.create_wallet("main")
    path = _desktop_config(home)
    path.parent.mkdir(parents=True)
    other = {"command": "npx", "args": ["-y", "@mcp/fs", "/tmp"], "env": {"TOKEN": "t"}}
    original = {"globalShortcut": "Ctrl+Space", "mcpServers": {"fs": other}, "theme": "dark"}
    path.write_text(json.dumps(original, indent=4))
    first = ok(waiaas("mcp", "setup", "--write-config"))
    config = json.loads(path.read_text())
    assert config["globalShortcut"] == "Ctrl+Space" and config["theme"] == "dark"
    assert config["mcpServers"]["fs"] == other
    assert config["mcpServers"]["waiaas-main"] == _snippet(first)["mcpServers"]["waiaas-main"]
    [backup] = path.parent.glob("claude_desktop_config.json.bak-*")
    assert re.fullmatch(r"claude_desktop_config\.json\.bak-\d{8}T\d{6}Z", backup.name)
    assert json.loads(backup.read_text()) == original
    assert f"Backup of the old file: {backup}" in first

    ok(waiaas("mcp", "setup", "--write-config"))
    again = json.loads(path.read_text())
    assert list(again["mcpServers"]) == ["fs", "waiaas-main"]
    assert again == config
    assert len(_active_mcp_sessions(daemon, wallet["id"])) == 1


def test_write_config_creates_a_missing_config(waiaas, daemon, home):
    daemon.create_wallet("main")
    snippet = _snippet(ok(waiaas("mcp", "setup", "--write-config")))
    assert json.loads(_desktop_config(home).read_text()) == snippet


def test_write_config_replaces_the_wallets_entry_when_its_name_changes(waiaas, daemon, home):
    first = daemon.create_wallet("main")
    ok(waiaas("mcp", "setup", "--write-config"))
    daemon.create_wallet("Main")  # now both slugs are suffixed with their ids
    ok(waiaas("mcp", "setup", "--wallet", first["id"], "--write-config"))
    servers = json.loads(_desktop_config(home).read_text())["mcpServers"]
    [(key, entry)] = servers.items()
    assert key.startswith("waiaas-main-") and entry["env"]["WAIAAS_WALLET_ID"] == first["id"]


def test_write_config_leaves_invalid_json_untouched_and_creates_no_session(waiaas, daemon, home):
    wallet = daemon.create_wallet("main")
    path = _desktop_config(home)
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"other": ')
    result = waiaas("mcp", "setup", "--write-config")
    assert_one_line_error(result, str(path), "is not valid JSON", "left untouched")
    assert path.read_text() == '{"mcpServers": {"other": '
    assert [p.name for p in path.parent.iterdir()] == ["claude_desktop_config.json"]
    assert _active_mcp_sessions(daemon, wallet["id"]) == []


def test_write_config_refuses_a_key_another_server_holds_before_creating_a_session(
    waiaas, daemon, home
):
    wallet = daemon.create_wallet("main")
    path = _desktop_config(home)
    path.parent.mkdir(parents=True)
    theirs = {"mcpServers": {"waiaas-main": {"command": "elsewhere", "args": []}}}
    path.write_text(json.dumps(theirs))
    result = waiaas("mcp", "setup", "--write-config")
    assert_one_line_error(result, "'waiaas-main'", "rename or remove it")
    assert json.loads(path.read_text()) == theirs
    assert _active_mcp_sessions(daemon, wallet["id"]) == []


def _lone_surrogate(path):
    path.write_text('{"mcpServers": {}, "note": "\\ud800"}')


def _nested(path):
    path.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _fifo(path):
    os.mkfifo(path)


def _dev_zero(path):
    path.symlink_to("/dev/zero")


def _huge(path):
    path.write_text('{"mcpServers": {}, "pad": "' + "x" * (1024 * 1024) + '"}')


def _state_of(path):
    """What the test compares before and after: the kind of file and, if regular, its bytes."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISFIFO(info.st_mode):
        return ("fifo", None)
    return ("file", path.read_bytes())


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_lone_surrogate, "lone surrogate"),
        (_nested, "nested too deeply"),
        (_fifo, "not a regular file"),
        (_dev_zero, "not a regular file"),
        (_huge, "larger than 1024 KiB"),
    ],
    ids=["lone-surrogate", "nested-100000", "fifo", "symlink-to-dev-zero", "over-1-MiB"],
)
def test_write_config_refuses_an_unusable_file_before_any_session_changes(
    waiaas, daemon, home, make, says
):
    wallet = daemon.create_wallet("main")
    ok(waiaas("mcp", "setup"))  # an earlier MCP session, which must not be revoked
    token_file = daemon.data_dir / "mcp-tokens" / wallet["id"]
    token = token_file.read_text()
    sessions = daemon.api("GET", "/v1/sessions").json()["items"]
    path = _desktop_config(home)
    path.parent.mkdir(parents=True)
    make(path)
    before = _state_of(path)
    result = waiaas("mcp", "setup", "--write-config")
    assert_one_line_error(result, str(path), says, "left untouched")
    assert daemon.api("GET", "/v1/sessions").json()["items"] == sessions
    assert token_file.read_text() == token
    assert _state_of(path) == before
    assert [p.name for p in path.parent.iterdir()] == ["claude_desktop_config.json"]
