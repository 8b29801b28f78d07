import json
import stat
import uuid
from datetime import UTC, datetime

import pytest

from waiaas_cli.desktop_config import (
    DesktopConfigError,
    backup_path,
    install_servers,
    load_config,
    merge_servers,
)

NOW = datetime(2026, 11, 21, 5, 6, 7, tzinfo=UTC)
OTHER_SERVER = {"command": "npx", "args": ["-y", "@mcp/filesystem"], "env": {"API_KEY": "k"}}


def _entry(wallet_id, name="main"):
    env = {"WAIAAS_WALLET_ID": wallet_id, "WAIAAS_WALLET_NAME": name}
    return {"command": "/bin/waiaas-mcp", "args": [], "env": env}


def _config():
    return {"theme": "dark", "mcpServers": {"filesystem": OTHER_SERVER}, "globalShortcut": "F1"}


def test_merge_keeps_other_servers_and_top_level_keys_and_adds_entries():
    wallet = str(uuid.uuid4())
    merged = merge_servers(_config(), {"waiaas-main": _entry(wallet)})
    assert merged["theme"] == "dark" and merged["globalShortcut"] == "F1"
    assert merged["mcpServers"] == {"filesystem": OTHER_SERVER, "waiaas-main": _entry(wallet)}


def test_merge_does_not_change_the_config_it_was_given():
    config = _config()
    merge_servers(config, {"waiaas-main": _entry(str(uuid.uuid4()))})
    assert config == _config()


def test_merge_creates_mcp_servers_when_the_config_has_none():
    wallet = str(uuid.uuid4())
    assert merge_servers({"theme": "dark"}, {"waiaas-a": _entry(wallet)}) == {
        "theme": "dark",
        "mcpServers": {"waiaas-a": _entry(wallet)},
    }


def test_merge_replaces_a_wallets_entry_found_by_wallet_id_under_another_key():
    wallet = str(uuid.uuid4())
    config = _config()
    config["mcpServers"]["waiaas-old-name"] = _entry(wallet, "old name")
    config["mcpServers"]["after"] = OTHER_SERVER
    merged = merge_servers(config, {"waiaas-new-name": _entry(wallet, "new name")})
    assert list(merged["mcpServers"]) == ["filesystem", "waiaas-new-name", "after"]
    assert merged["mcpServers"]["waiaas-new-name"] == _entry(wallet, "new name")


def test_merge_matches_wallet_ids_whatever_their_case():
    wallet = str(uuid.uuid4())
    config = {"mcpServers": {"waiaas-main": _entry(wallet.upper())}}
    merged = merge_servers(config, {"waiaas-main": _entry(wallet)})
    assert merged["mcpServers"] == {"waiaas-main": _entry(wallet)}


def test_merge_refuses_a_key_that_another_server_holds():
    config = {"mcpServers": {"waiaas-main": _entry(str(uuid.uuid4()))}}
    with pytest.raises(DesktopConfigError, match="'waiaas-main' that is not this wallet's"):
        merge_servers(config, {"waiaas-main": _entry(str(uuid.uuid4()))})


def test_install_writes_the_merge_and_a_backup_of_the_old_file_beside_it(tmp_path):
    path = tmp_path / "claude_desktop_config.json"
    old_text = json.dumps(_config())
    path.write_text(old_text)
    wallet = str(uuid.uuid4())
    result = install_servers(path, {"waiaas-main": _entry(wallet)}, now=NOW)
    assert result.changed
    assert result.backup == tmp_path / "claude_desktop_config.json.bak-20261121T050607Z"
    assert result.backup.read_text() == old_text
    assert stat.S_IMODE(result.backup.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == merge_servers(_config(), {"waiaas-main": _entry(wallet)})


def test_install_twice_leaves_one_entry_and_the_second_time_changes_nothing(tmp_path):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(_config()))
    servers = {"waiaas-main": _entry(str(uuid.uuid4()))}
    install_servers(path, servers, now=NOW)
    after_first = path.read_text()
    again = install_servers(path, servers, now=NOW)
    assert not again.changed and again.backup is None
    assert path.read_text() == after_first
    assert list(json.loads(after_first)["mcpServers"]) == ["filesystem", "waiaas-main"]


def test_install_creates_a_missing_file_and_its_folder_without_a_backup(tmp_path):
    path = tmp_path / ".config" / "Claude" / "claude_desktop_config.json"
    wallet = str(uuid.uuid4())
    result = install_servers(path, {"waiaas-main": _entry(wallet)}, now=NOW)
    assert result.backup is None
    assert json.loads(path.read_text()) == {"mcpServers": {"waiaas-main": _entry(wallet)}}


def test_install_writes_through_a_symlink_to_its_target(tmp_path):
    target = tmp_path / "dotfiles" / "claude.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "claude_desktop_config.json"
    link.symlink_to(target)
    install_servers(link, {"waiaas-main": _entry(str(uuid.uuid4()))}, now=NOW)
    assert link.is_symlink() and "waiaas-main" in json.loads(target.read_text())["mcpServers"]


def test_install_leaves_a_file_that_is_not_valid_json_untouched(tmp_path):
    path = tmp_path / "claude_desktop_config.json"
    path.write_bytes(b'{"mcpServers": {,}')
    with pytest.raises(DesktopConfigError, match=r"is not valid JSON \(line 1, column 17"):
        install_servers(path, {"waiaas-main": _entry(str(uuid.uuid4()))}, now=NOW)
    assert path.read_bytes() == b'{"mcpServers": {,}'
    assert [p.name for p in tmp_path.iterdir()] == ["claude_desktop_config.json"]


@pytest.mark.parametrize("text", ["[1, 2]", '{"mcpServers": []}'])
def test_config_that_is_not_an_object_of_servers_is_refused(tmp_path, text):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(text)
    with pytest.raises(DesktopConfigError, match="left untouched"):
        load_config(path)


def test_an_empty_file_counts_as_an_empty_config(tmp_path):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text("\n")
    assert load_config(path) == {}


def test_backup_names_never_overwrite_an_earlier_backup(tmp_path):
    path = tmp_path / "c.json"
    first = backup_path(path, NOW)
    first.write_text("x")
    assert backup_path(path, NOW).name == "c.json.bak-20261121T050607Z-1"
