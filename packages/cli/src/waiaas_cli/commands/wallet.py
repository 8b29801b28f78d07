"""`waiaas wallet create|list`: the daemon's wallets."""

from __future__ import annotations

import click

from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table
from waiaas_core.config import NETWORKS


@click.group()
def wallet() -> None:
    """Create and list wallets."""


@wallet.command()
@click.argument("name")
@click.option(
    "--network",
    type=click.Choice(NETWORKS),
    help="Solana network (default: the daemon's [solana] network).",
)
@daemon_options
@password_option
@json_option
@pass_state
def create(state: State, name: str, network: str | None, as_json: bool) -> None:
    """Create a wallet called NAME; its key stays encrypted in the daemon."""
    body = {"name": name} | ({"network": network} if network else {})
    created = state.client().request("POST", "/v1/wallets", master=True, json=body)
    if as_json:
        print_json(created)
        return
    click.echo(f"Created wallet {created['name']} ({created['id']})")
    click.echo(f"Network: {created['network']}")
    click.echo(f"Address: {created['address']}")


@wallet.command(name="list")
@daemon_options
@password_option
@json_option
@pass_state
def list_(state: State, as_json: bool) -> None:
    """List the wallets: id, name, network, status and address."""
    items = state.client().request("GET", "/v1/wallets", master=True)["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No wallets found. Create one with `waiaas wallet create NAME`.")
        return
    rows = [
        (w["id"], w["name"], w["network"], w["status"], w["address"], iso_time(w.get("createdAt")))
        for w in items
    ]
    print_table(("ID", "NAME", "NETWORK", "STATUS", "ADDRESS", "CREATED"), rows)
