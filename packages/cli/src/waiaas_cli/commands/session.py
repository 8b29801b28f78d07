"""`waiaas session list|revoke`: the session tokens agents hold."""

from __future__ import annotations

import uuid

import click

from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table


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
    params = {"walletId": wallet_id} if wallet_id else None
    items = state.client().request("GET", "/v1/sessions", master=True, params=params)["items"]
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


@session.command()
@click.argument("session_id", metavar="ID")
@daemon_options
@password_option
@pass_state
def revoke(state: State, session_id: str) -> None:
    """Revoke session ID at once; its token stops working. Revoking twice is fine."""
    try:
        session_id = str(uuid.UUID(session_id))
    except ValueError:
        # Checked before it goes into the URL, where `../` could reach another route.
        raise click.ClickException(f"{session_id!r} is not a session id (a UUID).") from None
    revoked = state.client().request("DELETE", f"/v1/sessions/{session_id}", master=True)
    click.echo(f"Revoked session {revoked['id']}")
