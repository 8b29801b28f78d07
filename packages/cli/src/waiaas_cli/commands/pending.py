"""`waiaas pending`, `waiaas approve ID`, `waiaas reject ID`: sends that wait for the owner.

QUEUED sends go out at their time unless rejected; PENDING_APPROVAL ones only
when approved, and expire otherwise (SPEC 12).
"""

from __future__ import annotations

import re
from typing import Any

import click

from waiaas_cli.client import DaemonClient
from waiaas_cli.lookup import all_wallets, wallet_label
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table, units_text
from waiaas_core.limits import canonical_uuid
from waiaas_core.networks import NETWORKS

#: As git: a prefix shorter than this is refused, it would match too much by chance.
MIN_PREFIX = 4
_PREFIX = re.compile(r"[0-9a-f-]+")


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
    wallets = all_wallets(state.client())
    names = {w["id"]: w["name"] for w in wallets}
    owned = {w.get("address"): w["name"] for w in wallets}
    rows = [
        (
            t["id"],
            wallet_label(names, t.get("walletId")),
            what_of(t),
            t.get("network") or "-",
            t.get("status"),
            amount_of(t),
            recipient_of(t, owned),
            when_of(t),
            about_of(t),
        )
        for t in items
    ]
    print_table(("ID", "WALLET", "WHAT", "NETWORK", "STATUS", "AMOUNT", "TO", "WHEN", "MEMO"), rows)
    click.echo("\nDecide with `waiaas approve ID` or `waiaas reject ID --reason TEXT`")
    click.echo("(the first characters of an ID are enough when no other waiting send shares them).")


def recipient_of(record: dict[str, Any], owned: dict[Any, str]) -> str:
    """The recipient's address, and the owner's wallet name when it is one of theirs."""
    to = record.get("to")
    if to is None:
        return "-"
    return f"{to} (wallet {owned[to]})" if to in owned else str(to)


def about_of(record: dict[str, Any]) -> str:
    """The memo the agent gave (a payment's site is in WHAT)."""
    return str(record["memo"]) if record.get("memo") else "-"


def resolve_id(client: DaemonClient, typed: str) -> str:
    """A full id as it is; a prefix (as git takes one) the waiting send whose id it starts."""
    text = typed.strip().lower()
    try:
        return canonical_uuid(text)
    except ValueError:
        pass
    if not _PREFIX.fullmatch(text):
        raise click.BadParameter(f"{typed!r} is not a transaction id or the start of one.")
    if len(text.replace("-", "")) < MIN_PREFIX:
        raise click.BadParameter(
            f"{typed!r} is too short: give at least {MIN_PREFIX} characters of the id."
        )
    items = client.request("GET", "/v1/pending", master=True)["items"]
    found = [t["id"] for t in items if str(t.get("id", "")).startswith(text)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise click.ClickException(
            f"no waiting send has an id starting with {typed!r}; `waiaas pending` lists them."
        )
    raise click.ClickException(
        f"{typed!r} is ambiguous: it starts the ids of {', '.join(found)}; type more of it."
    )


def report(verb: str, record: dict[str, Any]) -> None:
    what = "" if what_of(record) == "send" else f" ({what_of(record)})"
    click.echo(f"{verb} {record.get('id')}: {amount_of(record)} to {record.get('to')}{what}")
    click.echo(f"Status: {record.get('status')}")
    if record.get("status") == "APPROVED":
        click.echo("The agent's next call for that URL pays it, until the approval expires.")
    if record.get("signature"):
        click.echo(f"Signature: {record['signature']}")


@click.command()
@click.argument("transaction_id", metavar="ID")
@daemon_options
@password_option
@pass_state
def approve(state: State, transaction_id: str) -> None:
    """Approve waiting send ID (or the start of its id): it is sent now."""
    client = state.client()
    path = f"/v1/pending/{resolve_id(client, transaction_id)}/approve"
    report("Approved", client.request("POST", path, master=True, json={}))


@click.command()
@click.argument("transaction_id", metavar="ID")
@click.option("--reason", help="Why, kept in the audit log and told to the agent.")
@daemon_options
@password_option
@pass_state
def reject(state: State, transaction_id: str, reason: str | None) -> None:
    """Reject waiting send ID (or the start of its id): it is never sent."""
    client = state.client()
    body = {"reason": reason} if reason else {}
    path = f"/v1/pending/{resolve_id(client, transaction_id)}/reject"
    report("Rejected", client.request("POST", path, master=True, json=body))
