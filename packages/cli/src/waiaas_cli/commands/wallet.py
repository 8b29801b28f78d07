"""`waiaas wallet ...`: create, list, balance, rename, delete, suspend, resume, airdrop."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.client import DaemonClient
from waiaas_cli.lookup import find_wallet, resolve_wallet
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table, units_text
from waiaas_cli.params import SOL_DECIMALS, NumberArguments
from waiaas_core.amounts import to_base_units
from waiaas_core.errors import WaiaasError
from waiaas_core.networks import FAMILIES, NETWORK_NAMES, NETWORKS


@click.group()
def wallet() -> None:
    """Create, list, rename, delete, suspend, resume and fund wallets; show balances."""


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
    """List the wallets: id, name, chain, network, status, balances and address.

    BALANCES names every asset the wallet holds (SOL and tokens) in whole units;
    "unavailable" when the chain does not answer. A suspended wallet gets a line
    under the table with the time and the reason (the owner's, or
    `auto: <n> denials within an hour`).
    """
    client = state.client()
    items = client.request("GET", "/v1/wallets", master=True)["items"]
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
            holdings_text(client, w),
            w["address"],
            iso_time(w.get("createdAt")),
        )
        for w in items
    ]
    print_table(
        ("ID", "NAME", "CHAIN", "NETWORK", "STATUS", "BALANCES", "ADDRESS", "CREATED"), rows
    )
    # A reason may be long: one line under the table each, not a column.
    for w in items:
        if w["status"] == "SUSPENDED":
            since, reason = iso_time(w.get("suspendedAt")), w.get("suspendedReason") or "-"
            click.echo(f"{w['name']} is suspended since {since}: {reason}")


def assets_of(client: DaemonClient, wallet_id: str) -> list[dict[str, Any]]:
    """``GET /v1/wallets/{id}/assets``: SOL first, then every token account."""
    return client.request("GET", f"/v1/wallets/{wallet_id}/assets", master=True)["items"]


def asset_text(asset: dict[str, Any]) -> str:
    """``1.5 SOL``, ``12.5 USDC``; a token outside the registry by its mint."""
    symbol = asset.get("symbol") or f"(mint {asset.get('mint')})"
    return units_text(asset.get("amount"), int(asset.get("decimals") or 0), symbol)


def holdings_text(client: DaemonClient, wallet: dict[str, Any]) -> str:
    """Every asset with a balance, ``0 SOL`` when there is none; "-" for a terminated wallet."""
    if wallet.get("status") == "TERMINATED":
        return "-"
    try:
        items = assets_of(client, wallet["id"])
    except WaiaasError as error:
        if error.code in ("CHAIN_ERROR", "RATE_LIMITED", "NOT_FOUND"):
            return "unavailable"
        raise
    held = [a for a in items if a.get("mint") is None or str(a.get("amount")) != "0"]
    return ", ".join(asset_text(a) for a in held) or "0 SOL"


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET", required=False)
@daemon_options
@password_option
@json_option
@pass_state
def balance(state: State, wallet_ref: str | None, as_json: bool) -> None:
    """Show every asset WALLET holds (SOL and tokens), in whole units.

    WALLET is an id or a name; without it, every wallet that is not terminated.
    """
    client = state.client()
    wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    if wallet_ref:
        chosen = [find_wallet(wallets, wallet_ref)]
    else:
        chosen = [w for w in wallets if w.get("status") != "TERMINATED"]
    if not chosen:
        click.echo("No wallets found. Create one with `waiaas wallet create NAME`.")
        return
    reports = [(w, assets_of(client, w["id"])) for w in chosen]
    if as_json:
        print_json([{"walletId": w["id"], "name": w["name"], "items": a} for w, a in reports])
        return
    for number, (found, assets) in enumerate(reports):
        if number:
            click.echo()
        click.echo(f"{found['name']} ({found['network']}, {found['address']})")
        rows = [(a.get("symbol") or "-", asset_text(a), a.get("mint") or "-") for a in assets]
        print_table(("ASSET", "BALANCE", "MINT"), rows)


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET")
@click.argument("new_name", metavar="NEW_NAME")
@daemon_options
@password_option
@pass_state
def rename(state: State, wallet_ref: str, new_name: str) -> None:
    """Rename WALLET (an id or a name) to NEW_NAME, unique among live wallets.

    The MCP entries already written keep working (they name the wallet by id);
    run `waiaas mcp setup` again to refresh the name Claude Desktop shows.
    """
    client = state.client()
    found = resolve_wallet(client, wallet_ref)
    body = {"name": new_name}
    renamed = client.request("PATCH", f"/v1/wallets/{found['id']}", master=True, json=body)
    click.echo(f"Renamed wallet {found['name']} to {renamed['name']} ({renamed['id']})")


@wallet.command()
@click.argument("wallet_ref", metavar="WALLET")
@click.option(
    "--force",
    is_flag=True,
    help="Delete even though the wallet still holds funds (they stay on its address).",
)
@daemon_options
@password_option
@pass_state
def delete(state: State, wallet_ref: str, force: bool) -> None:
    """Delete (terminate) WALLET: its sessions are revoked and its waiting sends cancelled.

    A deleted wallet can never send again; its record, transactions and audit
    entries are kept and its name is free for a new wallet. A wallet that still
    holds SOL or tokens is refused unless --force: move the funds out first, or
    they stay on an address nobody can spend from.
    """
    client = state.client()
    found = resolve_wallet(client, wallet_ref)
    if found.get("status") == "TERMINATED":
        raise click.ClickException(f"wallet {found['name']} ({found['id']}) is already deleted.")
    if not force:
        try:
            assets = assets_of(client, found["id"])
        except WaiaasError as error:
            raise click.ClickException(
                f"cannot read the balances of {found['name']} ({error.code}), so it is not "
                "deleted; use --force to delete it anyway."
            ) from None
        funded = [asset_text(a) for a in assets if str(a.get("amount")) != "0"]
        if funded:
            raise click.ClickException(
                f"wallet {found['name']} still holds {', '.join(funded)}; move the funds out "
                "first, or use --force to delete it anyway (the funds stay on its address)."
            )
    deleted = client.request("DELETE", f"/v1/wallets/{found['id']}", master=True)
    click.echo(
        f"Deleted wallet {found['name']} ({found['id']}): status {deleted.get('status')}; "
        "its sessions are revoked."
    )


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


@wallet.command(cls=NumberArguments)
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
    if amount.strip().startswith("-"):
        # Said before the daemon is asked: the token's decimals do not matter for a sign.
        raise click.BadParameter(f"{amount!r}: the amount cannot be negative.", param_hint="AMOUNT")
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
