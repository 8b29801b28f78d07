"""`waiaas audit [--wallet] [--action] [--limit] [--json]` and `waiaas audit verify` (SPEC 13)."""

from __future__ import annotations

import json
from typing import Any

import click

from waiaas_cli.lookup import resolve_wallet
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json, print_table, units_text
from waiaas_core.limits import MAX_PAGE


def details_text(details: Any) -> str:
    if details in (None, {}, ""):
        return "-"
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def entry_text(entry: dict[str, Any]) -> str:
    """The entry's details as a person reads them: amounts in units, the memo, the site."""
    details = dict(entry.get("details") or {})
    token = entry.get("token")
    parts = []
    if "amount" in details:
        amount = details.pop("amount")
        if isinstance(token, dict) and isinstance(token.get("decimals"), int):
            unit = token.get("symbol") or token.get("mint")
            parts.append(units_text(amount, token["decimals"], unit))
        elif details.get("mint") is None:
            parts.append(units_text(amount))
        else:
            parts.append(f"{amount} base units")
        details.pop("mint", None)
    if entry.get("origin"):
        parts.append(f"pays {entry['origin']}")
    if entry.get("memo"):
        parts.append(f"memo: {entry['memo']}")
    if details:
        parts.append(details_text(details))
    return "; ".join(parts) or "-"


def actor_text(entry: dict[str, Any]) -> str:
    """``owner``, ``daemon``, or ``agent mcp (session 1f2e3d4c)``."""
    actor = str(entry.get("actor") or "-")
    if not actor.startswith("session:"):
        return actor
    label = entry.get("sessionLabel") or "agent"
    return f"{label} (session {actor.removeprefix('session:')[:8]})"


@click.group(invoke_without_command=True)
@click.option("--wallet", "wallet_ref", metavar="WALLET", help="Only this wallet (id or name).")
@click.option("--action", metavar="ACTION", help="Only entries of this action.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_PAGE),
    default=20,
    show_default=True,
    help="How many entries, newest first.",
)
@daemon_options
@password_option
@json_option
@pass_state
@click.pass_context
def audit(
    ctx: click.Context,
    state: State,
    wallet_ref: str | None,
    action: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Show the audit log (newest first), or check its hash chain with `audit verify`."""
    if ctx.invoked_subcommand is not None:
        return
    client = state.client()
    params = {"limit": str(limit)}
    if wallet_ref:
        params["walletId"] = resolve_wallet(client, wallet_ref)["id"]
    if action:
        params["action"] = action
    items = client.request("GET", "/v1/audit", master=True, params=params)["items"]
    if as_json:
        print_json(items)
        return
    if not items:
        click.echo("No audit entries found.")
        return
    rows = [
        (
            e.get("seq"),
            iso_time(e.get("at")),
            actor_text(e),
            e.get("action"),
            e.get("walletName") or e.get("walletId"),
            entry_text(e),
        )
        for e in items
    ]
    print_table(("SEQ", "AT", "ACTOR", "ACTION", "WALLET", "DETAILS"), rows)


@audit.command()
@daemon_options
@password_option
@pass_state
def verify(state: State) -> None:
    """Recompute the audit log's hash chain; exit 1 naming the first bad entry."""
    result = state.client().request("GET", "/v1/audit/verify", master=True)
    if result.get("ok") is True:
        click.echo(f"Audit log intact: {result.get('entries')} entries, hash chain verified.")
        return
    raise click.ClickException(
        f"the audit log was altered: the hash chain breaks at entry {result.get('firstBadSeq')} "
        f"(firstBadSeq; {result.get('entries')} entries checked)."
    )
