"""Options shared by the commands, and the State they fill in ``ctx.obj``.

Resolution (SPEC 10): base URL from ``--base-url``, ``$WAIAAS_BASE_URL``,
config.toml, ``http://127.0.0.1:3100``; data dir from ``--data-dir``,
``$WAIAAS_DATA_DIR``, ``~/.waiaas``; master password from ``--password``,
``$WAIAAS_MASTER_PASSWORD``, a hidden prompt. Each is resolved only when a
command needs it, so a command that fails early never prompts.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx

from waiaas_cli.client import DaemonClient
from waiaas_core.config import daemon_base_url
from waiaas_core.paths import resolve_data_dir

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class State:
    base_url_flag: str | None = None
    data_dir_flag: str | None = None
    password_flag: str | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    # Tests hand in an httpx.MockTransport (a fake daemon); None is the network.
    transport: httpx.BaseTransport | None = field(default=None, repr=False)
    _password: str | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return resolve_data_dir(self.data_dir_flag, self.env)

    @property
    def base_url(self) -> str:
        chosen = (
            self.base_url_flag
            or self.env.get("WAIAAS_BASE_URL")
            or daemon_base_url(self.data_dir, self.env)
        )
        return chosen.rstrip("/")

    def password(self) -> str:
        if self._password is None:
            self._password = (
                self.password_flag or self.env.get("WAIAAS_MASTER_PASSWORD") or _prompt()
            )
        return self._password

    def client(self) -> DaemonClient:
        """A client closed with the command's context."""
        client = DaemonClient(self.base_url, self.password, transport=self.transport)
        click.get_current_context().call_on_close(client.close)
        return client


def _prompt() -> str:
    """A hidden prompt on a terminal; from a pipe, the first line of stdin."""
    if sys.stdin.isatty():
        try:
            return click.prompt("Master password", hide_input=True, err=True)
        except click.Abort:  # Ctrl-C or Ctrl-D
            pass
    else:
        # getpass on a pipe would warn that it cannot hide what is not shown anyway.
        line = sys.stdin.readline().rstrip("\r\n")
        if line:
            return line
    raise click.ClickException(
        "no master password: pass --password, set $WAIAAS_MASTER_PASSWORD or type it at the prompt."
    )


pass_state = click.make_pass_decorator(State, ensure=True)


def _store(attr: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None:
            setattr(ctx.ensure_object(State), attr, value)
        return value

    return callback


def data_dir_option(fn: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        expose_value=False,
        callback=_store("data_dir_flag"),
        help="Data directory (default: $WAIAAS_DATA_DIR, else ~/.waiaas).",
    )(fn)


def daemon_options(fn: F) -> F:
    """``--base-url`` and ``--data-dir``: where the daemon and the data dir are."""
    fn = click.option(
        "--base-url",
        metavar="URL",
        expose_value=False,
        callback=_store("base_url_flag"),
        help="Daemon URL (default: $WAIAAS_BASE_URL, else host and port from "
        "config.toml, else http://127.0.0.1:3100).",
    )(fn)
    return data_dir_option(fn)


def password_option(fn: F) -> F:
    return click.option(
        "--password",
        metavar="PW",
        expose_value=False,
        callback=_store("password_flag"),
        help="Master password (default: $WAIAAS_MASTER_PASSWORD, else a hidden prompt). "
        "Prefer the variable or the prompt: arguments are visible to other local users.",
    )(fn)


def json_option(fn: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
    )(fn)
