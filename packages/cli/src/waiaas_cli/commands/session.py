"""`waiaas session list|revoke`: the session tokens agents hold."""

from __future__ import annotations

import click

from waiaas_cli.client import DaemonClient
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table
from waiaas_core.errors import WaiaasError
from waiaas_core.limits import canonical_uuid


@click.group()
def session() -> None:
    """List and revoke sessions."""


@session.command(name="list")
@click.option("--wallet", "wallet_id", metavar="ID", help="Only this wallet's sessions.")
@daemon_options
@password_option
@json_option
@pass_state
def list_(state: State, wallet_id: str | None, as_json: bool) -> None:
    """List sessions with their status and expiry (all wallets, or one with --wallet)."""
    client = state.client()
    if wallet_id:
        wallet_id = parse_uuid(wallet_id, "wallet")
    params = {"walletId": wallet_id} if wallet_id else None
    items = client.request("GET", "/v1/sessions", master=True, params=params)["items"]
    if wallet_id and not items:
        # An empty list would hide a mistyped id; ask whether the wallet exists at all.
        check_wallet(client, wallet_id)
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No sessions found.")
        return
    rows = [
        (
            s["id"],
            s["walletId"],
            s.get("label") or "-",
            s["status"],
            iso_time(s.get("expiresAt")),
            f"{s.get('renewalCount')}/{s.get('maxRenewals')}",
        )
        for s in items
    ]
    print_table(("ID", "WALLET", "LABEL", "STATUS", "EXPIRES", "RENEWALS"), rows)


def parse_uuid(value: str, what: str) -> str:
    """Checked before an id goes into a URL path, where `../` could reach another route."""
    try:
        # A person may paste an id in upper case; the daemon takes the canonical form only.
        return canonical_uuid(value.strip().lower())
    except ValueError:
        raise click.ClickException(f"{value!r} is not a {what} id (a UUID).") from None


def check_wallet(client: DaemonClient, wallet_id: str) -> None:
    try:
        client.request("GET", f"/v1/wallets/{wallet_id}", master=True)
    except WaiaasError as exc:
        if exc.code != "WALLET_NOT_FOUND":
            raise
        raise click.ClickException(
            f"unknown wallet id {wallet_id}; `waiaas wallet list` shows the wallets."
        ) from None


@session.command()
@click.argument("session_id", metavar="ID")
@daemon_options
@password_option
@pass_state
def revoke(state: State, session_id: str) -> None:
    """Revoke session ID at once; its token stops working. Revoking twice is fine."""
    path = f"/v1/sessions/{parse_uuid(session_id, 'session')}"
    revoked = state.client().request("DELETE", path, master=True)
    click.echo(f"Revoked session {revoked['id']}")
