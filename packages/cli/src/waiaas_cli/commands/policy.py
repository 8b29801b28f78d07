"""`waiaas policy show|set|clear WALLET`: the owner's standing rules for a wallet (SPEC 12).

A person types SOL, a token's own units (`--token USDC --instant-max 5`), dollars
(`--usd-daily 50`) and durations (`--delay 15m`); the API carries base units as
decimal strings, dollars as decimal strings and seconds as integers. `show` prints
every amount in its asset's units (from the daemon's token registry) and in dollars.
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
from waiaas_cli.params import ADDRESS, DOLLARS, DURATION
from waiaas_cli.rules import Registry, policy_lines, registry_of
from waiaas_core.amounts import to_base_units
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
# option name -> usd rule, for the amounts typed in dollars
USD_FLAGS = {
    "usd_instant_max": "instantMax",
    "usd_notify_max": "notifyMax",
    "usd_delay_max": "delayMax",
    "usd_daily": "dailyLimit",
    "usd_monthly": "monthlyLimit",
    "usd_chat_approval_max": "chatApprovalMax",
}
SOL_DECIMALS = 9
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


def registry(client: Any, wallet: dict[str, Any]) -> dict[str, Any]:
    """The daemon's token registry for the wallet's network (``GET /v1/tokens``)."""
    return client.request("GET", "/v1/tokens", master=True, params={"network": wallet["network"]})


def print_policy(
    wallet: dict[str, Any], answer: dict[str, Any], tokens: Registry | None = None
) -> None:
    click.echo(f"Wallet:  {wallet['name']} ({wallet['id']})")
    version = answer.get("version")
    updated = f", updated {iso_time(answer['updatedAt'])}" if answer.get("updatedAt") else ""
    click.echo(f"Version: {version}{updated}")
    lines = policy_lines(answer.get("policy") or {}, tokens)
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
    """Show the policy of WALLET (an id or a unique name): SOL, each token in its own units,
    dollar rules in dollars."""
    client = state.client()
    wallet = resolve_wallet(client, wallet_ref)
    answer = client.request("GET", policy_path(wallet["id"]), master=True)
    if as_json:
        print_json(answer)
        return
    print_policy(wallet, answer, registry_of(registry(client, wallet)))


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


def base_units(option: str, text: str, decimals: int, unit: str) -> str:
    """An amount a person typed, in base units of the asset (0 allowed: a ceiling)."""
    try:
        return str(to_base_units(text, decimals, allow_zero=True))
    except ValueError as exc:
        hint = "--" + option.replace("_", "-")
        raise click.BadParameter(
            f"{exc} ({unit})." if unit else f"{exc}.", param_hint=hint
        ) from None


def apply_flags(
    base: dict[str, Any],
    flags: dict[str, Any],
    recipients: tuple[str, ...],
    token: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``base`` with every given flag set: amounts in base units of SOL or of ``token``
    (a registry entry: under ``tokens.<mint>``), dollars under ``usd``, the rest as ints."""
    updated = dict(base)
    target = updated
    decimals, unit = SOL_DECIMALS, "SOL"
    if token is not None:
        tokens = dict(updated.get("tokens") or {})
        target = tokens[token["mint"]] = dict(tokens.get(token["mint"]) or {})
        updated["tokens"] = tokens
        decimals, unit = int(token["decimals"]), str(token.get("symbol") or token["mint"])
    for option, field in AMOUNT_FLAGS.items():
        if flags.get(option) is not None:
            target[field] = base_units(option, str(flags[option]), decimals, unit)
    usd = dict(updated.get("usd") or {})
    for option, field in USD_FLAGS.items():
        if flags.get(option) is not None:
            usd[field] = flags[option]
    if usd:
        updated["usd"] = usd
    for option, field in PLAIN_FLAGS.items():
        if flags.get(option) is not None:
            updated[field] = flags[option]
    if recipients:
        updated["allowedRecipients"] = list(dict.fromkeys(recipients))
    return updated


def registry_entry(answer: dict[str, Any], token: str, hint: str) -> dict[str, Any]:
    """The registry entry of ``token`` (a symbol, any case, or a mint)."""
    for entry in answer.get("items") or []:
        symbol = str(entry.get("symbol") or "")
        if token in (entry.get("mint"), symbol) or token.upper() == symbol.upper():
            return dict(entry)
    raise click.BadParameter(f"{token} is not in the daemon's token registry.", param_hint=hint)


def x402_ceiling(registry: dict[str, Any], token: str, amount: str) -> tuple[str, str]:
    """(mint, base units) of ``amount`` whole units of the registry's ``token``."""
    entry = registry_entry(registry, token, "--x402-token")
    try:
        units = to_base_units(amount, int(entry["decimals"]), allow_zero=True)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--x402-max-per-request") from None
    return entry["mint"], str(units)


def apply_x402(
    current: Any,
    hosts: tuple[str, ...],
    any_host: bool | None,
    ceiling: tuple[str, str] | None,
) -> dict[str, Any]:
    """The policy's x402 rules with the given flags applied; the others stay."""
    rules = dict(current) if isinstance(current, dict) else {}
    if hosts:
        rules["allowedHosts"] = list(dict.fromkeys(h.lower() for h in hosts))
    if any_host is not None:
        rules["allowAnyHost"] = any_host
    if ceiling is not None:
        rules["maxPerRequest"] = {**(rules.get("maxPerRequest") or {}), ceiling[0]: ceiling[1]}
    return rules


@policy.command(name="set")
@click.argument("wallet_ref", metavar="WALLET")
@click.option(
    "--token",
    "token_ref",
    metavar="SYMBOL|MINT",
    help="The amount options below are of this token, in its own units (--token USDC "
    "--instant-max 5), and bind its sends only; without it they are SOL's.",
)
@click.option(
    "--instant-max", metavar="AMOUNT", help="Sent at once up to this many SOL (or --token)."
)
@click.option(
    "--notify-max", metavar="AMOUNT", help="Sent and you are notified up to this many SOL."
)
@click.option(
    "--delay-max",
    metavar="AMOUNT",
    help="Sent after --delay (unless you reject) up to this many SOL.",
)
@click.option("--delay", type=DURATION, help="How long a DELAY-tier send waits: 15m, 1h, 900.")
@click.option(
    "--approval-timeout", type=DURATION, help="An unapproved send expires after this: 1h, 30m."
)
@click.option(
    "--daily-limit",
    metavar="AMOUNT",
    help="SOL per rolling 24 h; a send past it needs your approval.",
)
@click.option(
    "--monthly-limit",
    metavar="AMOUNT",
    help="SOL per rolling 30 days; a send past it needs approval.",
)
@click.option(
    "--chat-approval-max",
    metavar="AMOUNT",
    help="The most a tap in the linked Telegram chat may approve; above it, the console or CLI.",
)
@click.option(
    "--usd-instant-max",
    type=DOLLARS,
    metavar="DOLLARS",
    help="Any token sent at once up to this many dollars (the stricter rule wins).",
)
@click.option(
    "--usd-notify-max",
    type=DOLLARS,
    metavar="DOLLARS",
    help="Any token sent, and you notified, up to this many dollars.",
)
@click.option(
    "--usd-delay-max",
    type=DOLLARS,
    metavar="DOLLARS",
    help="Any token sent after --delay up to this many dollars.",
)
@click.option(
    "--usd-daily",
    type=DOLLARS,
    metavar="DOLLARS",
    help="Dollars per rolling 24 h over every token; a send past it needs your approval.",
)
@click.option(
    "--usd-monthly",
    type=DOLLARS,
    metavar="DOLLARS",
    help="Dollars per rolling 30 days over every token; past it needs approval.",
)
@click.option(
    "--usd-chat-approval-max",
    type=DOLLARS,
    metavar="DOLLARS",
    help="The most, in dollars, a tap in the linked Telegram chat may approve.",
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
    "--x402-allow-host",
    "x402_hosts",
    multiple=True,
    metavar="HOST",
    help="Let the agent pay (x402) for resources on HOST (api.example.com, *.example.com, "
    "host:port); repeat for several; replaces the list.",
)
@click.option(
    "--x402-any-host/--no-x402-any-host",
    "x402_any_host",
    default=None,
    help="Let the agent pay any host (x402); off by default.",
)
@click.option(
    "--x402-max-per-request",
    "x402_max",
    metavar="AMOUNT",
    help="The most one x402 payment may cost, in whole units of --x402-token (0.5).",
)
@click.option(
    "--x402-token",
    default="USDC",
    show_default=True,
    metavar="SYMBOL|MINT",
    help="The token --x402-max-per-request is counted in.",
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
    x402_hosts: tuple[str, ...],
    x402_any_host: bool | None,
    x402_max: str | None,
    x402_token: str,
    token_ref: str | None,
    **flags: Any,
) -> None:
    """Change the policy of WALLET: only the rules you name change, the others stay.

    Amounts are in SOL (0.25), or in --token's own units (--token USDC --instant-max 5);
    the --usd-* rules are dollars over every token on every chain (--usd-daily 50).
    Durations like 15m or 1h. With --file, the file's document replaces the policy,
    and the options are applied over it.

    The change is written only over the version it was made from: if someone else
    changed the policy meanwhile, nothing is written and you re-run the command.
    """
    x402_given = bool(x402_hosts) or x402_any_host is not None or x402_max is not None
    given = any(v is not None for v in flags.values()) or recipients or x402_given
    if not given and policy_file is None:
        raise click.UsageError("name at least one rule to set, or a --file.")
    sol = token_ref is None or token_ref.upper() == "SOL"
    for option in AMOUNT_FLAGS:
        if flags.get(option) is not None:
            # Checked before anything is asked of the daemon; a token's decimals once known.
            text = str(flags[option])
            places = SOL_DECIMALS if sol else min(255, len(text.partition(".")[2].rstrip("0")))
            base_units(option, text, places, "SOL" if sol else "")
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
    known = registry(client, wallet) if token_ref or x402_max is not None else {}
    token = None
    if token_ref is not None and token_ref.upper() != "SOL":
        token = registry_entry(known, token_ref, "--token")
    updated = apply_flags(document, flags, recipients, token)
    if x402_given:
        ceiling = None
        if x402_max is not None:
            ceiling = x402_ceiling(known, x402_token, x402_max)
        updated["x402"] = apply_x402(updated.get("x402"), x402_hosts, x402_any_host, ceiling)
    try:
        answer = client.request("PUT", path, master=True, json=updated, headers=precondition)
    except WaiaasError as error:
        raise conflict_error(error, wallet, "set") from None
    if as_json:
        print_json(answer)
        return
    print_policy(wallet, answer, registry_of(known or registry(client, wallet)))
    if token is None and any(flags.get(o) is not None for o in AMOUNT_FLAGS):
        click.echo(
            "Note: these amounts bind SOL sends only. For a token use --token SYMBOL; "
            "for every token, in dollars, the --usd-* options."
        )


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
