import os
import uuid
from pathlib import Path

from waiaas_core.claude import (
    WalletRef,
    build_claude_desktop_config,
    claude_config_path,
    find_mcp_command,
)


def _wallet(name):
    return WalletRef(id=str(uuid.uuid4()), name=name)


def test_snippet_has_one_entry_per_wallet_with_the_env_the_server_needs(tmp_path):
    a, b = _wallet("Main"), _wallet("main")
    config = build_claude_desktop_config(
        [a, b], base_url="http://127.0.0.1:3100", data_dir=tmp_path, command=("/x/waiaas-mcp", [])
    )
    servers = config["mcpServers"]
    assert len(servers) == 2 and all(k.startswith("waiaas-main-") for k in servers)
    envs = {entry["env"]["WAIAAS_WALLET_ID"]: entry["env"] for entry in servers.values()}
    assert envs[a.id] == {
        "WAIAAS_DATA_DIR": str(tmp_path),
        "WAIAAS_BASE_URL": "http://127.0.0.1:3100",
        "WAIAAS_WALLET_ID": a.id,
        "WAIAAS_WALLET_NAME": "Main",
    }


def test_wallet_keeps_its_server_name_when_set_up_alone(tmp_path):
    a, b = _wallet("Main"), _wallet("main")
    together = build_claude_desktop_config(
        [a, b], base_url="u", data_dir=tmp_path, command=("c", [])
    )
    alone = build_claude_desktop_config(
        [a], base_url="u", data_dir=tmp_path, command=("c", []), all_wallets=[a, b]
    )
    key = next(iter(alone["mcpServers"]))
    assert together["mcpServers"][key]["env"]["WAIAAS_WALLET_ID"] == a.id


def test_command_beside_the_interpreter_wins(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "waiaas-mcp"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    other = tmp_path / "other"
    other.mkdir()
    (other / "waiaas-mcp").write_text("#!/bin/sh\n")
    (other / "waiaas-mcp").chmod(0o755)
    assert find_mcp_command(str(bindir / "python"), path=str(other)) == (str(script), [])
    assert find_mcp_command(str(tmp_path / "none" / "python"), path=str(other)) == (
        str(other / "waiaas-mcp"),
        [],
    )


def test_falls_back_to_uvx(tmp_path):
    command, args = find_mcp_command(str(tmp_path / "python"), path=str(tmp_path))
    assert Path(command).name == "uvx" and args == ["waiaas-mcp"]


def test_config_path_per_platform(tmp_path):
    home = tmp_path
    assert claude_config_path("darwin", {}, home) == (
        home / "Library/Application Support/Claude/claude_desktop_config.json"
    )
    assert claude_config_path("win32", {"APPDATA": "C:/Users/u/AppData/Roaming"}, home) == Path(
        "C:/Users/u/AppData/Roaming/Claude/claude_desktop_config.json"
    )
    linux = home / ".config/Claude/claude_desktop_config.json"
    assert claude_config_path("linux", {}, home) == linux
    assert os.path.isabs(claude_config_path())
