"""`waiaas status`: is the daemon up, and what does it hold."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json


@click.command()
@daemon_options
@password_option
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Show the daemon's health, network, wallet and session counts, the kill switch and
    how many sends wait for a decision.

    The counts come from the admin status, which needs the master password.
    """
    client = state.client()
    health = client.health()
    admin = client.request("GET", "/v1/admin/status", master=True)
    waiting = client.request("GET", "/v1/pending", master=True)["items"]
    if as_json:
        print_json(
            {"baseUrl": client.base_url, "health": health, "admin": admin, "pending": len(waiting)}
        )
        return
    click.echo(f"Daemon:          {client.base_url} ({health.get('status')})")
    click.echo(f"Version:         {health.get('version')}")
    click.echo(f"Uptime:          {health.get('uptimeSeconds')} s")
    click.echo(f"Network:         {admin.get('network')}")
    click.echo(f"Wallets:         {admin.get('walletCount')}")
    click.echo(f"Active sessions: {admin.get('activeSessionCount')}")
    click.echo(f"Kill switch:     {kill_switch_text(admin.get('killSwitch'))}")
    click.echo(f"Waiting:         {waiting_text(waiting)}")


def waiting_text(items: list[Any]) -> str:
    """How many sends wait for a decision, and the command that shows them."""
    if not items:
        return "nothing waits for a decision"
    held = sum(1 for t in items if isinstance(t, dict) and t.get("status") == "PENDING_APPROVAL")
    queued = len(items) - held
    return f"{len(items)} ({held} for your approval, {queued} delayed): see `waiaas pending`"


def kill_switch_text(switch: Any) -> str:
    """``off``, or ``ON since <time>: <reason>``; an older daemon without the field: unknown."""
    if not isinstance(switch, dict):
        return "unknown (the daemon does not report it)"
    if not switch.get("active"):
        return "off"
    reason = switch.get("reason")
    since = f"ON since {iso_time(switch.get('since'))}"
    return f"{since}: {reason}" if reason else since
