"""The four packages share one version, and every waiaas-core pin admits it."""

import importlib.util
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "daemon", "mcp", "cli")


def _load_tool():
    spec = importlib.util.spec_from_file_location("bump_version", ROOT / "tools/bump_version.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bump_version = _load_tool()


def _projects(root):
    return {
        name: tomllib.loads((root / "packages" / name / "pyproject.toml").read_text())["project"]
        for name in PACKAGES
    }


def _core_pins(projects):
    pins = {}
    for name, project in projects.items():
        for line in project["dependencies"]:
            requirement = Requirement(line)
            if requirement.name == "waiaas-core":
                pins[name] = requirement.specifier
    return pins


def _assert_consistent(root):
    projects = _projects(root)
    versions = {project["version"] for project in projects.values()}
    assert len(versions) == 1, versions
    core = Version(projects["core"]["version"])
    pins = _core_pins(projects)
    assert set(pins) == {"daemon", "mcp", "cli"}
    for name, specifier in pins.items():
        assert core in specifier, (name, str(specifier), str(core))
    return projects


def test_the_four_packages_share_one_version_and_each_pin_admits_core():
    _assert_consistent(ROOT)


def test_each_core_pin_has_an_upper_bound_below_the_next_minor():
    projects = _projects(ROOT)
    core = Version(projects["core"]["version"])
    for name, specifier in _core_pins(projects).items():
        assert Version(f"{core.major}.{core.minor + 1}.0") not in specifier, name


@pytest.fixture
def workspace(tmp_path):
    """A copy of the four pyproject.toml files and the tool, to bump without touching ours."""
    for name in PACKAGES:
        (tmp_path / "packages" / name).mkdir(parents=True)
        shutil.copy(ROOT / "packages" / name / "pyproject.toml", tmp_path / "packages" / name)
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "bump_version.py", tmp_path / "tools")
    return tmp_path


def _bump(workspace, *args):
    return subprocess.run(
        [sys.executable, str(workspace / "tools" / "bump_version.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_one_command_bumps_all_four_versions_and_moves_the_pins_with_the_minor(workspace):
    result = _bump(workspace, "0.7.0")
    assert result.returncode == 0, result.stderr
    projects = _assert_consistent(workspace)
    assert projects["core"]["version"] == "0.7.0"
    assert projects["core"]["name"] == "waiaas-core"
    assert {str(s) for s in _core_pins(projects).values()} == {"<0.8,>=0.7"}


def test_a_patch_bump_keeps_the_pins(workspace):
    before = {str(s) for s in _core_pins(_projects(workspace)).values()}
    assert _bump(workspace, "patch").returncode == 0
    projects = _assert_consistent(workspace)
    assert {str(s) for s in _core_pins(projects).values()} == before


def test_a_version_that_is_not_x_y_z_is_refused_and_nothing_changes(workspace):
    before = {n: (workspace / "packages" / n / "pyproject.toml").read_text() for n in PACKAGES}
    result = _bump(workspace, "1.2")
    assert result.returncode == 1 and "is not a version like 1.2.3" in result.stderr
    after = {n: (workspace / "packages" / n / "pyproject.toml").read_text() for n in PACKAGES}
    assert after == before


@pytest.mark.parametrize(
    ("version", "pin"),
    [
        ("0.1.0", "waiaas-core>=0.1,<0.2"),
        ("0.9.3", "waiaas-core>=0.9,<0.10"),
        ("1.4.2", "waiaas-core>=1.4,<2"),
    ],
)
def test_the_core_pin_is_the_compatible_range_of_the_version(version, pin):
    assert bump_version.core_pin(version) == pin


def test_major_minor_and_patch_step_the_current_version():
    assert bump_version.next_version("0.1.3", "patch") == "0.1.4"
    assert bump_version.next_version("0.1.3", "minor") == "0.2.0"
    assert bump_version.next_version("0.1.3", "major") == "1.0.0"
