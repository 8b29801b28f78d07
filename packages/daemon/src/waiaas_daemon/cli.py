"""`waiaas-daemon` command line."""

import click


@click.group()
@click.version_option(package_name="waiaas-daemon")
def main() -> None:
    """waiaas wallet daemon."""


@main.command()
def serve() -> None:
    """Run the daemon (not implemented yet)."""
    raise click.ClickException("not implemented yet")
