import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from waiaas_cli.main import main


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    yield path, group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(main))


def test_tree_has_every_command_of_the_spec():
    paths = {" ".join(path) for path, _ in COMMANDS}
    expected = {"init", "status", "wallet create", "wallet list"}
    expected |= {"session list", "session revoke", "mcp setup"}
    expected |= {"wallet suspend", "wallet resume", "wallet airdrop"}
    expected |= {"policy show", "policy set", "policy clear", "pending", "approve", "reject"}
    expected |= {"kill-switch on", "kill-switch off", "audit", "audit verify", "notify test"}
    assert expected <= paths


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_and_option_has_help_text(path, command):
    assert command.help and command.help.strip(), path
    for param in command.params:
        if isinstance(param, click.Option):
            assert param.help, f"{' '.join(path)} {param.opts[0]}"
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    first_line = command.help.strip().splitlines()[0]
    assert first_line in " ".join(result.output.split())


def test_installed_console_script_sits_beside_the_interpreter():
    script = Path(sys.executable).parent / "waiaas"
    result = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and "version" in result.stdout


def test_unknown_option_is_a_usage_error_without_traceback(cli):
    result = cli("wallet", "list", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr and "Traceback" not in result.stderr
