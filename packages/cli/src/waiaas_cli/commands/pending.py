"""`waiaas pending`, `waiaas approve ID`, `waiaas reject ID`: sends that wait for the owner.

QUEUED sends go out at their time unless rejected; PENDING_APPROVAL ones only
when approved, and expire otherwise (SPEC 12).
"""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table, units_text
from waiaas_cli.params import Uuid
from waiaas_core.networks import NETWORKS

TRANSACTION_ID = Uuid("transaction")


def amount_of(record: dict[str, Any]) -> str:
    """The amount in the asset's own units: the network's coin (SOL, ETH, POL), or the
    token's symbol and decimals."""
    token = record.get("token")
    if isinstance(token, dict) and isinstance(token.get("decimals"), int):
        symbol = token.get("symbol") or token.get("mint")
        return units_text(record.get("amount"), token["decimals"], symbol)
    native = NETWORKS.get(str(record.get("network")))
    if native is not None and native.native_symbol != "SOL":
        return units_text(record.get("amount"), native.native_decimals, native.native_symbol)
    return units_text(record.get("amount"))


def what_of(record: dict[str, Any]) -> str:
    """A send, or an x402 payment and the site it pays for."""
    if record.get("type") == "PAYMENT":
        return f"payment for {record.get('origin') or 'an unknown site'}"
    return "send"


def when_of(record: dict[str, Any]) -> str:
    if record.get("status") == "QUEUED":
        return f"runs {iso_time(record.get('executeAt'))}"
    return f"expires {iso_time(record.get('approvalExpiresAt'))}"


@click.command()
@daemon_options
@password_option
@json_option
@pass_state
def pending(state: State, as_json: bool) -> None:
    """List sends and x402 payments waiting for their delay or for your approval, oldest
    first; a payment shows the site it pays for."""
    items = state.client().request("GET", "/v1/pending", master=True)["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("Nothing is waiting.")
        return
    rows = [
        (
            t["id"],
            t.get("walletId"),
            what_of(t),
            t.get("network") or "-",
            t.get("status"),
            amount_of(t),
            t.get("to"),
            when_of(t),
        )
        for t in items
    ]
    print_table(("ID", "WALLET", "WHAT", "NETWORK", "STATUS", "AMOUNT", "TO", "WHEN"), rows)
    click.echo("\nDecide with `waiaas approve ID` or `waiaas reject ID --reason TEXT`.")


def report(verb: str, record: dict[str, Any]) -> None:
    what = "" if what_of(record) == "send" else f" ({what_of(record)})"
    click.echo(f"{verb} {record.get('id')}: {amount_of(record)} to {record.get('to')}{what}")
    click.echo(f"Status: {record.get('status')}")
    if record.get("status") == "APPROVED":
        click.echo("The agent's next call for that URL pays it, until the approval expires.")
    if record.get("signature"):
        click.echo(f"Signature: {record['signature']}")


@click.command()
@click.argument("transaction_id", metavar="ID", type=TRANSACTION_ID)
@daemon_options
@password_option
@pass_state
def approve(state: State, transaction_id: str) -> None:
    """Approve waiting send ID: it is sent now."""
    path = f"/v1/pending/{transaction_id}/approve"
    report("Approved", state.client().request("POST", path, master=True, json={}))


@click.command()
@click.argument("transaction_id", metavar="ID", type=TRANSACTION_ID)
@click.option("--reason", help="Why, kept in the audit log and told to the agent.")
@daemon_options
@password_option
@pass_state
def reject(state: State, transaction_id: str, reason: str | None) -> None:
    """Reject waiting send ID: it is never sent."""
    body = {"reason": reason} if reason else {}
    path = f"/v1/pending/{transaction_id}/reject"
    report("Rejected", state.client().request("POST", path, master=True, json=body))
