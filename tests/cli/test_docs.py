"""The docs a clone carries stand on their own: no link leaves the repository."""

import re
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_page_points_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    assert "../shared" not in text
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), target
        assert resolved.exists(), f"{page.name} links to missing {target}"


def test_readme_starts_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = lines.index("```sh")
    assert lines[start + 1].endswith("&& waiaas-daemon serve")
    assert lines[start + 2].endswith("&& nox")
    assert lines[start + 3] == "```"


def test_the_cli_reference_names_every_command():
    from tests.cli.test_main import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for path, command in COMMANDS:
        if path and not isinstance(command, click.Group):
            assert f"waiaas {' '.join(path)}" in text, path
