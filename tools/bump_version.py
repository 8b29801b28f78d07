"""Bump the version of all four packages together, and the waiaas-core pins with it.

    nox -s bump -- 0.2.0        (or: python tools/bump_version.py 0.2.0 | patch | minor | major)

The four packages ship together: one version for all, and daemon, mcp and cli
pin ``waiaas-core`` to the compatible range of that version (``>=0.2,<0.3``
while the major is 0, ``>=1.2,<2`` after), so the pins move only when the
minor or major does.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PACKAGES = ("core", "daemon", "mcp", "cli")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_VERSION_LINE = re.compile(r'^version = "([^"]*)"$', re.MULTILINE)
# A dependency line, indented in its list; never core's own `name = "waiaas-core"`.
_CORE_PIN = re.compile(r'^(\s+)"waiaas-core[^"]*"', re.MULTILINE)


def parse(version: str) -> tuple[int, int, int]:
    match = _VERSION.match(version)
    if not match:
        raise ValueError(f"{version!r} is not a version like 1.2.3")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def next_version(current: str, request: str) -> str:
    """``request`` is a version, or ``major`` / ``minor`` / ``patch`` to step ``current``."""
    major, minor, patch = parse(current)
    steps = {
        "major": f"{major + 1}.0.0",
        "minor": f"{major}.{minor + 1}.0",
        "patch": f"{major}.{minor}.{patch + 1}",
    }
    chosen = steps.get(request, request)
    parse(chosen)
    return chosen


def core_pin(version: str) -> str:
    """The range of core versions compatible with ``version``."""
    major, minor, _ = parse(version)
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"waiaas-core>={major}.{minor},<{upper}"


def bump_text(text: str, version: str) -> str:
    """One pyproject.toml with its version (and core pin, if any) set for ``version``."""
    text, count = _VERSION_LINE.subn(f'version = "{version}"', text, count=1)
    if count != 1:
        raise ValueError("no version line")
    return _CORE_PIN.sub(lambda m: f'{m.group(1)}"{core_pin(version)}"', text)


def current_version(root: Path) -> str:
    text = (root / "packages" / "core" / "pyproject.toml").read_text(encoding="utf-8")
    match = _VERSION_LINE.search(text)
    if not match:
        raise ValueError("packages/core/pyproject.toml has no version line")
    return match.group(1)


def bump(root: Path, request: str) -> str:
    """Rewrite the four pyproject.toml files under ``root``; returns the new version."""
    version = next_version(current_version(root), request)
    files = [root / "packages" / name / "pyproject.toml" for name in PACKAGES]
    new_texts = [bump_text(path.read_text(encoding="utf-8"), version) for path in files]
    for path, text in zip(files, new_texts, strict=True):  # all checked before any is written
        path.write_text(text, encoding="utf-8")
    return version


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: bump_version.py VERSION | major | minor | patch", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parent.parent
    try:
        version = bump(root, argv[0])
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"All four packages are now {version}; {core_pin(version)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
