"""The four distributions install side by side and their commands answer --help."""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

COMMANDS = {"waiaas": "waiaas-cli", "waiaas-daemon": "waiaas-daemon", "waiaas-mcp": "waiaas-mcp"}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_console_script_is_installed_beside_the_interpreter_and_answers_help(command):
    script = Path(sys.executable).parent / command
    assert script.is_file(), f"{command} is not installed in {script.parent}"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage" in (result.stdout + result.stderr).lower()


@pytest.mark.parametrize("distribution", ["waiaas-daemon", "waiaas-mcp", "waiaas-cli"])
def test_each_package_depends_on_core_and_on_no_sibling(distribution):
    requires = {Requirement(r).name for r in metadata.requires(distribution) or []}
    assert "waiaas-core" in requires
    siblings = {"waiaas-daemon", "waiaas-mcp", "waiaas-cli"} - {distribution}
    assert not siblings & requires


def test_packages_import_only_core_of_their_siblings():
    root = Path(__file__).resolve().parents[1] / "packages"
    for package, forbidden in {
        "daemon": ("waiaas_mcp", "waiaas_cli"),
        "mcp": ("waiaas_daemon", "waiaas_cli"),
        "cli": ("waiaas_daemon", "waiaas_mcp"),
        "core": ("waiaas_daemon", "waiaas_mcp", "waiaas_cli"),
    }.items():
        for source in (root / package / "src").rglob("*.py"):
            text = source.read_text()
            for name in forbidden:
                assert f"import {name}" not in text and f"from {name}" not in text, source
