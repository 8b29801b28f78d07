"""Fixtures for the CLI tests: the installed `waiaas` run as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A HOME of its own, so Claude Desktop's config path points into the test's folder."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(home: Path) -> Run:
    """Run ``python -m waiaas_cli ARGS`` with a clean environment; returns the finished process.

    No WAIAAS_* variable leaks in from the developer's shell, stdin is empty unless
    ``input`` is given, and a new session means no controlling terminal, so a
    password prompt reads stdin instead of hanging on /dev/tty.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
    base["HOME"] = str(home)

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        umask: int = -1,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "waiaas_cli", *args],
            env=base | (env or {}),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=60,
            start_new_session=True,
            umask=umask,
            check=False,
        )

    return run


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A URL where nothing listens: a bound socket that never listens refuses connections.

    Holding the socket for the test's duration means no other process can take the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def waiaas(cli: Run, daemon: Any) -> Run:
    """``cli`` pointed at the test's real daemon: its URL, its data dir, its password.

    ``env={"WAIAAS_MASTER_PASSWORD": ""}`` makes a command prompt for the password.
    """

    def run(
        *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        where = ("--base-url", daemon.base_url, "--data-dir", str(daemon.data_dir))
        password = {"WAIAAS_MASTER_PASSWORD": daemon.password}
        return cli(*args, *where, env=password | (env or {}), input=input)

    return run


@pytest.fixture
def fake() -> Any:
    """An in-process fake daemon (tests/cli/fake_daemon.py) with one recorded call list."""
    from tests.cli.fake_daemon import FakeDaemon

    return FakeDaemon()


@pytest.fixture
def run_fake(fake: Any, tmp_path: Path) -> Callable[..., Any]:
    """Run ``waiaas ARGS`` in process against ``fake``; returns click's Result.

    stdout and stderr are kept apart (``result.stdout``, ``result.stderr``).
    """
    import httpx
    from click.testing import CliRunner

    from tests.cli.fake_daemon import PASSWORD
    from waiaas_cli.main import main
    from waiaas_cli.options import State

    def run(*args: str, env: dict[str, str] | None = None) -> Any:
        base = {"WAIAAS_MASTER_PASSWORD": PASSWORD, "WAIAAS_DATA_DIR": str(tmp_path / "data")}
        state = State(env=base | (env or {}), transport=httpx.MockTransport(fake.handle))
        result = CliRunner().invoke(main, list(args), obj=state)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run
