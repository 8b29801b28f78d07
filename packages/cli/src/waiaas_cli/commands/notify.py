"""`waiaas notify test`: check that notifications reach the owner (SPEC 13)."""

from __future__ import annotations

import click

from waiaas_cli.options import State, daemon_options, pass_state, password_option


@click.group()
def notify() -> None:
    """Notifications to the owner (webhook, ntfy, Telegram, Discord, Slack)."""


@notify.command()
@daemon_options
@password_option
@pass_state
def test(state: State) -> None:
    """Send a test notification to every configured channel.

    Delivery runs in the background; `GET /v1/admin/notifications` shows how it went.
    """
    answer = state.client().request("POST", "/v1/admin/notifications/test", master=True, json={})
    event = answer.get("id") if isinstance(answer, dict) else None
    suffix = f" (event {event})" if event else ""
    click.echo(f"Test notification queued for every configured channel{suffix}.")
