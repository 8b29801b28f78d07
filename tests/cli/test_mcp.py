import uuid

import click
import pytest

from tests.cli.checks import assert_one_line_error
from waiaas_cli.commands.mcp import choose_wallets


def _wallet(name, status="ACTIVE"):
    return {"id": str(uuid.uuid4()), "name": name, "status": status}


def _claude_config(home):
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    return path


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
    assert caught.value.message == f"unknown wallet id nope; known wallets: {a['id']} (a)."


def test_terminated_wallet_cannot_be_set_up():
    gone = _wallet("gone", "TERMINATED")
    with pytest.raises(click.ClickException, match="is terminated"):
        choose_wallets([gone], gone["id"], False)


def test_wallet_and_all_together_are_a_usage_error(cli, refused_url):
    result = cli("mcp", "setup", "--wallet", str(uuid.uuid4()), "--all", "--base-url", refused_url)
    assert result.returncode == 2
    assert "--wallet and --all cannot be used together" in result.stderr


def test_invalid_json_config_is_left_untouched_before_anything_else_happens(cli, home, refused_url):
    path = _claude_config(home)
    path.write_text('{"mcpServers": {"other": ')
    result = cli("mcp", "setup", "--write-config", "--base-url", refused_url)
    assert_one_line_error(result, str(path), "is not valid JSON", "left untouched")
    assert path.read_text() == '{"mcpServers": {"other": '
    assert [p.name for p in path.parent.iterdir()] == ["claude_desktop_config.json"]


def test_unreachable_daemon_names_the_url_and_the_serve_command(cli, refused_url, tmp_path):
    result = cli("mcp", "setup", "--base-url", refused_url, "--data-dir", str(tmp_path))
    assert_one_line_error(result, refused_url, "waiaas-daemon serve")
    assert not (tmp_path / "mcp-tokens").exists()


def test_expires_in_must_be_positive(cli, refused_url):
    result = cli("mcp", "setup", "--expires-in", "0", "--base-url", refused_url)
    assert result.returncode == 2 and "--expires-in" in result.stderr
