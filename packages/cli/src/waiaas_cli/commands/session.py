"""`waiaas session list|revoke`: the session tokens agents hold."""

from __future__ import annotations

import click

from waiaas_cli.lookup import find_wallet, wallet_label
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table
from waiaas_core.limits import canonical_uuid


@click.group()
def session() -> None:
    """List and revoke sessions."""


@session.command(name="list")
@click.option(
    "--wallet", "wallet_ref", metavar="WALLET", help="Only this wallet's sessions (id or name)."
)
@daemon_options
@password_option
@json_option
@pass_state
def list_(state: State, wallet_ref: str | None, as_json: bool) -> None:
    """List sessions with their wallet, label, status, expiry and renewals.

    All wallets, or one with --wallet (an id or a name).
    """
    client = state.client()
    wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    wallet_id = find_wallet(wallets, wallet_ref)["id"] if wallet_ref else None
    names = {w["id"]: w["name"] for w in wallets}
    params = {"walletId": wallet_id} if wallet_id else None
    items = client.request("GET", "/v1/sessions", master=True, params=params)["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No sessions found.")
        return
    rows = [
        (
            s["id"],
            wallet_label(names, s["walletId"]),
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
