"""Assertions shared by the CLI tests."""

from __future__ import annotations

import subprocess


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 1, one ``Error: ...`` line on stderr containing every fragment, no traceback."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 0; returns stdout."""
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def fake_ok(result) -> str:
    """An in-process run (click Result) that exited 0; returns stdout."""
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def fake_error(result, *fragments: str) -> str:
    """An in-process run that exited 1 with one ``Error: ...`` line holding every fragment."""
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
