"""`waiaas telegram link|status|unlink`: the chat that may approve and reject from a phone.

The daemon runs the bot (long polling, `[notifications]` telegram_* settings);
this command binds the owner's own private chat with the bot to it, by a
one-time code the owner sends to the bot from that chat.
"""

from __future__ import annotations

import time
from typing import Any

import click

from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json

PATH = "/v1/telegram"
POLL_SECONDS = 1.0


@click.group()
def telegram() -> None:
    """Approve and reject from Telegram: link your chat to the daemon's bot."""


def _linked_since(answer: dict[str, Any], since: int) -> dict[str, Any] | None:
    owner = answer.get("ownerChat")
    return owner if owner and int(owner.get("linkedAt", 0)) >= since else None


def print_status(answer: dict[str, Any]) -> None:
    click.echo(f"Bot:        {'running' if answer.get('running') else 'not running'}")
    if not answer.get("configured"):
        click.echo("            no telegram_bot_token in [notifications]")
    owner = answer.get("ownerChat")
    if owner:
        name = f" ({owner['name']})" if owner.get("name") else ""
        click.echo(f"Owner chat: {owner['chatId']}{name}, linked {iso_time(owner['linkedAt'])}")
    else:
        click.echo("Owner chat: none (waiaas telegram link)")
    click.echo(f"Ignored:    {answer.get('ignored', 0)} messages from other chats")
    if answer.get("lastError"):
        click.echo(f"Last error: {answer['lastError']}")


@telegram.command()
@click.option(
    "--wait",
    type=click.IntRange(min=0, max=600),
    default=600,
    show_default=True,
    help="Seconds to wait for the code to reach the bot (0: print it and return).",
)
@daemon_options
@password_option
@pass_state
def link(state: State, wait: int) -> None:
    """Show a one-time code; send it to the bot from your own private chat with it.

    Only that chat may then approve, reject and turn the kill switch on; the bot
    ignores (and counts) everything else. A new link replaces the old chat.
    """
    client = state.client()
    answer = client.request("POST", f"{PATH}/link", master=True, json={})
    since = int(answer["createdAt"])
    click.echo("Send this message to your bot, from your private chat with it:\n")
    click.echo(f"  {answer['send']}\n")
    click.echo(f"The code works once, until {iso_time(answer['expiresAt'])}.")
    if wait == 0:
        return
    click.echo("Waiting for it to arrive ...")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        owner = _linked_since(client.request("GET", PATH, master=True), since)
        if owner:
            name = f" ({owner['name']})" if owner.get("name") else ""
            click.echo(f"Linked: chat {owner['chatId']}{name} may now decide from Telegram.")
            return
        time.sleep(POLL_SECONDS)
    raise click.ClickException(
        "the code did not reach the bot in time; check that the daemon's bot runs "
        "(waiaas telegram status) and try again."
    )


@telegram.command()
@daemon_options
@password_option
@json_option
@pass_state
def status(state: State, as_json: bool) -> None:
    """Whether the bot runs, which chat is linked, how many strangers it ignored."""
    answer = state.client().request("GET", PATH, master=True)
    if as_json:
        print_json(answer)
    else:
        print_status(answer)


@telegram.command()
@daemon_options
@password_option
@pass_state
def unlink(state: State) -> None:
    """Forget the linked chat: no decision from Telegram until the next link."""
    state.client().request("DELETE", f"{PATH}/link", master=True)
    click.echo("Unlinked: Telegram can no longer decide anything.")
