"""`waiaas` command line."""

import click


@click.group()
@click.version_option(package_name="waiaas-cli")
def main() -> None:
    """waiaas: a wallet daemon for AI agents."""
