"""`waiaas init`: create the data dir (mode 0700) and a commented config.toml."""

from __future__ import annotations

import os
from pathlib import Path

import click

from waiaas_cli.options import State, data_dir_option, pass_state
from waiaas_core.config import CONFIG_TEMPLATE
from waiaas_core.paths import CONFIG_FILE, ensure_private_dir


@click.command()
@data_dir_option
@pass_state
def init(state: State) -> None:
    """Create the data directory and a commented config.toml.

    An existing config.toml is left as it is, so running init again is safe.
    """
    data_dir = ensure_private_dir(state.data_dir)
    config = data_dir / CONFIG_FILE
    try:
        create_private_file(config, CONFIG_TEMPLATE)
    except FileExistsError:
        click.echo(f"Kept the existing {config}")
    else:
        click.echo(f"Wrote {config}")
    click.echo(f"Data directory: {data_dir} (mode 0700)")
    click.echo(f"Next: waiaas-daemon serve --data-dir {data_dir}")


def create_private_file(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 whatever the umask; FileExistsError if it is there.

    config.toml holds notification secrets (webhook secret, bot token) once filled in.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)  # a umask cannot add bits, but an odd filesystem might
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
    finally:
        if fd != -1:
            os.close(fd)
