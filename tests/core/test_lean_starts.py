"""What the CLI and the daemon import at a start: not httpx's own command line.

httpx's ``__init__`` imports ``httpx._main`` (its command line client), and with it
rich and pygments: about a tenth of a second of CPU on every `waiaas` command and
a few MiB in the daemon, for nothing waiaas runs. ``waiaas_core`` keeps it out.
Structural, not a clock: ``-X importtime`` lists what a process imported.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)
# What httpx._main brings (importtime lists httpx._main itself even when it is kept out).
HTTPX_CLI = ("rich", "pygments")


def imports_of(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(IMPORTED.findall(done.stderr))


@pytest.mark.parametrize(
    "program",
    [
        ("-m", "waiaas_cli", "--help"),
        ("-m", "waiaas_daemon", "--help"),
        ("-c", "import waiaas_daemon.serving.server"),
    ],
    ids=["waiaas", "waiaas-daemon", "the daemon's server"],
)
def test_httpx_comes_without_its_command_line(program):
    modules = imports_of(*program)
    if program[0] == "-c":
        assert "httpx" in modules  # the daemon's server does use httpx
    found = sorted(m for m in modules if m.split(".")[0] in HTTPX_CLI)
    assert found == [], found
