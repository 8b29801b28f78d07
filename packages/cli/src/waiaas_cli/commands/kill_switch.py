"""`waiaas kill-switch on|off`: stop every send and session creation at once (SPEC 13)."""

from __future__ import annotations

import click

from waiaas_cli.options import State, daemon_options, pass_state, password_option

PATH = "/v1/admin/kill-switch"


@click.group(name="kill-switch")
def kill_switch() -> None:
    """Stop every send of every wallet at once, and resume."""


@kill_switch.command()
@click.option("--reason", help="Why, kept with the switch and in the audit log.")
@daemon_options
@password_option
@pass_state
def on(state: State, reason: str | None) -> None:
    """Turn the kill switch on: sends, queued sends and new sessions stop.

    Reads and renewals go on, so agents resume by themselves once it is off.
    """
    body = {"reason": reason} if reason else {}
    state.client().request("POST", PATH, master=True, json=body)
    click.echo("Kill switch ON: no wallet sends anything until `waiaas kill-switch off`.")


@kill_switch.command()
@daemon_options
@password_option
@pass_state
def off(state: State) -> None:
    """Turn the kill switch off: sends and waiting sends go on."""
    state.client().request("DELETE", PATH, master=True)
    click.echo("Kill switch OFF: sends are allowed again.")
