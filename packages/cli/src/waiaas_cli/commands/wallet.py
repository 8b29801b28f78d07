"""`waiaas wallet create|list|suspend|resume|airdrop`: the daemon's wallets."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.client import DaemonClient
from waiaas_cli.lookup import resolve_wallet
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table, units_text
from waiaas_cli.params import SOL_DECIMALS
from waiaas_core.amounts import to_base_units
from waiaas_core.networks import FAMILIES, NETWORK_NAMES, NETWORKS


@click.group()
def wallet() -> None:
    """Create, list, suspend, resume and fund wallets."""


@wallet.command()
@click.argument("name")
@click.option(
    "--chain",
    type=click.Choice(FAMILIES),
    help="Chain family: solana (the default) or evm (one address on every EVM network).",
)
@click.option(
    "--network",
    type=click.Choice(NETWORK_NAMES),
    help="Network (default: the daemon's [solana] network, or [evm] network for --chain evm).",
)
@daemon_options
@password_option
@json_option
@pass_state
def create(state: State, name: str, chain: str | None, network: str | None, as_json: bool) -> None:
    """Create a wallet called NAME; its key stays encrypted in the daemon."""
    body = {"name": name} | ({"network": network} if network else {})
    body |= {"chain": chain} if chain else {}
    created = state.client().request("POST", "/v1/wallets", master=True, json=body)
    if as_json:
        print_json(created)
        return
    click.echo(f"Created wallet {created['name']} ({created['id']})")
    click.echo(f"Chain:   {created.get('chain', 'solana')}")
    click.echo(f"Network: {created['network']}")
    click.echo(f"Address: {created['address']}")


@wallet.command(name="list")
@daemon_options
@password_option
@json_option
@pass_state
def list_(state: State, as_json: bool) -> None:
    """List the wallets: id, name, chain, network, status and address.

    A suspended wallet gets a line under the table with the time and the reason
    (the owner's, or `auto: <n> denials within an hour`).
    """
    items = state.client().request("GET", "/v1/wallets", master=True)["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No wallets found. Create one with `waiaas wallet create NAME`.")
        return
    rows = [
        (
            w["id"],
            w["name"],
            w.get("chain", "solana"),
            w["network"],
            w["status"],
            w["address"],
            iso_time(w.get("createdAt")),
        )
        for w in items
    ]
    print_table(("ID", "NAME", "CHAIN", "NETWORK", "STATUS", "ADDRESS", "CREATED"), rows)
    # A reason may be long: one line under the table each, not a column.
    for w in items:
        if w["status"] == "SUSPENDED":
            since, reason = iso_time(w.get("suspendedAt")), w.get("suspendedReason") or "-"
            click.echo(f"{w['name']} is suspended since {since}: {reason}")


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET")
@click.option("--reason", help="Why, kept with the wallet and in the audit log.")
@daemon_options
@password_option
@pass_state
def suspend(state: State, wallet_ref: str, reason: str | None) -> None:
    """Suspend WALLET (an id or a unique name): its sends are refused until resumed."""
    client = state.client()
    found = resolve_wallet(client, wallet_ref)
    body = {"reason": reason} if reason else {}
    changed = client.request("POST", f"/v1/wallets/{found['id']}/suspend", master=True, json=body)
    click.echo(f"Suspended wallet {found['name']} ({found['id']}): status {changed.get('status')}")


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET")
@daemon_options
@password_option
@pass_state
def resume(state: State, wallet_ref: str) -> None:
    """Resume WALLET after a suspension (yours or an automatic one)."""
    client = state.client()
    found = resolve_wallet(client, wallet_ref)
    changed = client.request("POST", f"/v1/wallets/{found['id']}/resume", master=True, json={})
    click.echo(f"Resumed wallet {found['name']} ({found['id']}): status {changed.get('status')}")


def find_token(client: DaemonClient, network: str, ref: str) -> dict[str, Any]:
    """The registry entry of ``ref`` (a symbol, any case, or a mint) on ``network``."""
    items = client.request("GET", "/v1/tokens", master=True, params={"network": network})["items"]
    for entry in items:
        if entry.get("mint") == ref or str(entry.get("symbol", "")).upper() == ref.upper():
            if not isinstance(entry.get("decimals"), int):
                raise click.ClickException(f"the registry has no decimals for {ref} on {network}.")
            return entry
    known = ", ".join(str(e.get("symbol")) for e in items) or "none"
    raise click.ClickException(f"no token {ref!r} on {network} (known: {known}).")


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET")
@click.argument("amount", metavar="AMOUNT")
@click.option(
    "--token", "token_ref", metavar="SYMBOL", help="A token of the registry (default: SOL)."
)
@daemon_options
@password_option
@json_option
@pass_state
def airdrop(
    state: State, wallet_ref: str, amount: str, token_ref: str | None, as_json: bool
) -> None:
    """Fund WALLET with AMOUNT test SOL, ETH (or tokens) on local, devnet or evm-local.

    AMOUNT is in whole units with decimals (1.5 SOL, 12.5 USDC); the token's decimals
    come from the daemon's registry.
    """
    client = state.client()
    found = resolve_wallet(client, wallet_ref)
    native = NETWORKS.get(found["network"])
    decimals, symbol, body = SOL_DECIMALS, "SOL", {}
    if native is not None:
        decimals, symbol = native.native_decimals, native.native_symbol
    if token_ref:
        token = find_token(client, found["network"], token_ref)
        decimals, symbol = token["decimals"], token.get("symbol") or token["mint"]
        body["token"] = token.get("symbol") or token["mint"]
    try:
        units = to_base_units(amount, decimals)
    except ValueError as exc:
        raise click.BadParameter(f"{exc} ({symbol}).", param_hint="AMOUNT") from None
    body["amount"] = str(units)
    record = client.request("POST", f"/v1/wallets/{found['id']}/airdrop", master=True, json=body)
    if as_json:
        print_json(record)
        return
    click.echo(
        f"Airdropped {units_text(str(units), decimals, symbol)} to {found['name']} "
        f"({found['address']}): transaction {record.get('id')}, status {record.get('status')}"
    )
