"""`waiaas policy show|set|clear WALLET`: the owner's standing rules for a wallet (SPEC 12).

A person types SOL and durations (`--instant-max 0.1 --delay 15m`); the API
carries lamports as decimal strings and seconds as integers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from waiaas_cli.lookup import resolve_wallet
from waiaas_cli.options import State, daemon_options, json_option, pass_state, password_option
from waiaas_cli.output import iso_time, print_json
from waiaas_cli.params import ADDRESS, DURATION, SOL_CEILING
from waiaas_cli.rules import policy_lines
from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_BODY_BYTES

# option name -> policy field, for the amounts typed in SOL
AMOUNT_FLAGS = {
    "instant_max": "instantMax",
    "notify_max": "notifyMax",
    "delay_max": "delayMax",
    "daily_limit": "dailyLimit",
    "monthly_limit": "monthlyLimit",
    "chat_approval_max": "chatApprovalMax",
}
PLAIN_FLAGS = {
    "delay": "delaySeconds",
    "approval_timeout": "approvalTimeout",
    "max_sends_per_hour": "maxSendsPerHour",
}


@click.group()
def policy() -> None:
    """Show and change a wallet's policy: limits, delays, approvals, allowed recipients."""


def policy_path(wallet_id: str) -> str:
    return f"/v1/wallets/{wallet_id}/policy"


def print_policy(wallet: dict[str, Any], answer: dict[str, Any]) -> None:
    click.echo(f"Wallet:  {wallet['name']} ({wallet['id']})")
    version = answer.get("version")
    updated = f", updated {iso_time(answer['updatedAt'])}" if answer.get("updatedAt") else ""
    click.echo(f"Version: {version}{updated}")
    lines = policy_lines(answer.get("policy") or {})
    if lines:
        click.echo("Rules:")
        for line in lines:
            click.echo(line)
    else:
        click.echo("Rules:   none (every send the session allows goes out at once)")


def if_match(current: dict[str, Any]) -> dict[str, str]:
    """The precondition of a write made from ``current`` (a GET answer): its version."""
    version = current.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return {}
    return {"If-Match": f'"{version}"'}


def conflict_error(error: WaiaasError, wallet: dict[str, Any], verb: str) -> Exception:
    """A version conflict as one line that says what to do; any other error as it is."""
    if error.code != "POLICY_VERSION_CONFLICT":
        return error
    found = re.search(r"at version (\d+)", error.message)
    now = f" (now version {found[1]})" if found else ""
    return click.ClickException(
        f"the policy of {wallet['name']} was changed by someone else since this command "
        f"read it{now}; nothing was changed. Check it with `waiaas policy show` and re-run "
        f"`waiaas policy {verb}`."
    )


@policy.command()
@click.argument("wallet_ref", metavar="WALLET")
@daemon_options
@password_option
@json_option
@pass_state
def show(state: State, wallet_ref: str, as_json: bool) -> None:
    """Show the policy of WALLET (an id or a unique name), amounts in SOL."""
    client = state.client()
    wallet = resolve_wallet(client, wallet_ref)
    answer = client.request("GET", policy_path(wallet["id"]), master=True)
    if as_json:
        print_json(answer)
        return
    print_policy(wallet, answer)


def read_policy_file(path: Path) -> dict[str, Any]:
    """A policy document from a JSON file (amounts in lamports, as the API takes them)."""
    with path.open("rb") as handle:
        data = handle.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise click.ClickException(f"{path} is larger than {MAX_BODY_BYTES // 1024} KiB.")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise click.ClickException(f"{path} is not a JSON policy document ({exc}).") from None
    if not isinstance(document, dict):
        raise click.ClickException(f"{path} does not hold a JSON object.")
    return document


def apply_flags(
    base: dict[str, Any], flags: dict[str, Any], recipients: tuple[str, ...]
) -> dict[str, Any]:
    """``base`` with every given flag set: amounts as lamport strings, the rest as ints."""
    updated = dict(base)
    for option, field in AMOUNT_FLAGS.items():
        if flags.get(option) is not None:
            updated[field] = str(flags[option])
    for option, field in PLAIN_FLAGS.items():
        if flags.get(option) is not None:
            updated[field] = flags[option]
    if recipients:
        updated["allowedRecipients"] = list(dict.fromkeys(recipients))
    return updated


@policy.command(name="set")
@click.argument("wallet_ref", metavar="WALLET")
@click.option("--instant-max", type=SOL_CEILING, help="Sent at once up to this many SOL.")
@click.option(
    "--notify-max", type=SOL_CEILING, help="Sent and you are notified up to this many SOL."
)
@click.option(
    "--delay-max",
    type=SOL_CEILING,
    help="Sent after --delay (unless you reject) up to this many SOL.",
)
@click.option("--delay", type=DURATION, help="How long a DELAY-tier send waits: 15m, 1h, 900.")
@click.option(
    "--approval-timeout", type=DURATION, help="An unapproved send expires after this: 1h, 30m."
)
@click.option(
    "--daily-limit",
    type=SOL_CEILING,
    help="SOL per rolling 24 h; a send past it needs your approval.",
)
@click.option(
    "--monthly-limit",
    type=SOL_CEILING,
    help="SOL per rolling 30 days; a send past it needs approval.",
)
@click.option(
    "--chat-approval-max",
    type=SOL_CEILING,
    help="The most a tap in the linked Telegram chat may approve; above it, the console or CLI.",
)
@click.option(
    "--allow-recipient",
    "recipients",
    type=ADDRESS,
    multiple=True,
    metavar="ADDR",
    help="Allow sends only to this address (repeat for several); replaces the list.",
)
@click.option(
    "--max-sends-per-hour", type=click.IntRange(min=1), metavar="N", help="Sends per hour at most."
)
@click.option(
    "--file",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Start from this JSON policy document (amounts in lamports) instead of the current one.",
)
@daemon_options
@password_option
@json_option
@pass_state
def set_(
    state: State,
    wallet_ref: str,
    recipients: tuple[str, ...],
    policy_file: Path | None,
    as_json: bool,
    **flags: Any,
) -> None:
    """Change the policy of WALLET: only the rules you name change, the others stay.

    Amounts are in SOL (0.25), durations like 15m or 1h. With --file, the file's
    document replaces the policy, and the options are applied over it.

    The change is written only over the version it was made from: if someone else
    changed the policy meanwhile, nothing is written and you re-run the command.
    """
    given = any(v is not None for v in flags.values()) or recipients
    if not given and policy_file is None:
        raise click.UsageError("name at least one rule to set, or a --file.")
    document = read_policy_file(policy_file) if policy_file else None
    client = state.client()
    wallet = resolve_wallet(client, wallet_ref)
    path = policy_path(wallet["id"])
    precondition: dict[str, str] = {}
    if document is None:
        current = client.request("GET", path, master=True)
        document = current.get("policy") or {}
        # Read-modify-write: the write applies only over the version read.
        precondition = if_match(current)
    try:
        answer = client.request(
            "PUT",
            path,
            master=True,
            json=apply_flags(document, flags, recipients),
            headers=precondition,
        )
    except WaiaasError as error:
        raise conflict_error(error, wallet, "set") from None
    if as_json:
        print_json(answer)
        return
    print_policy(wallet, answer)


@policy.command()
@click.argument("wallet_ref", metavar="WALLET")
@daemon_options
@password_option
@pass_state
def clear(state: State, wallet_ref: str) -> None:
    """Remove every rule of WALLET's policy (session constraints still apply).

    Like `set`, it clears only the version it read: a change made meanwhile is a
    conflict, and nothing is cleared.
    """
    client = state.client()
    wallet = resolve_wallet(client, wallet_ref)
    path = policy_path(wallet["id"])
    precondition = if_match(client.request("GET", path, master=True))
    try:
        answer = client.request("DELETE", path, master=True, headers=precondition)
    except WaiaasError as error:
        raise conflict_error(error, wallet, "clear") from None
    click.echo(
        f"Cleared the policy of {wallet['name']} ({wallet['id']}); version {answer.get('version')}."
    )
