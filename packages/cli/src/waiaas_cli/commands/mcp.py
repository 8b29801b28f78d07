"""`waiaas mcp setup`: give Claude Desktop (or any MCP client) a session for a wallet.

The nine steps of SPEC 10: health, master password, wallet choice, an ``mcp``
session, the token file, a report, the Claude Desktop snippet, the config
location, and with ``--write-config`` a merge into that file. With ``--http`` the
session is an ``mcp-http`` one for the daemon's own ``/mcp`` (Streamable HTTP): no
token file, and the client config printed carries the token as a bearer. ``--max-per-tx``,
``--max-per-day`` and ``--allow-recipient`` (SOL, exact) become the session's
constraints; the report shows them and the wallet policy, and warns when
nothing limits the session.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from waiaas_cli.client import DaemonClient
from waiaas_cli.desktop_config import install_servers, load_config, merge_servers
from waiaas_cli.errors import describe
from waiaas_cli.lookup import find_wallet
from waiaas_cli.options import State, daemon_options, pass_state, password_option
from waiaas_cli.output import iso_time
from waiaas_cli.params import ADDRESS, BUDGET, SOL, Duration
from waiaas_cli.rules import constraint_lines, policy_lines
from waiaas_core.atomic import write_secret_file
from waiaas_core.claude import WalletRef, build_claude_desktop_config, claude_config_path
from waiaas_core.errors import WaiaasError
from waiaas_core.paths import ensure_private_dir, token_path

MCP_LABEL = "mcp"
HTTP_MCP_LABEL = "mcp-http"


@dataclass(frozen=True)
class Provisioned:
    wallet: WalletRef
    session_id: str
    token_path: Path | None
    expires_at: Any
    token: str
    constraints: dict[str, Any] | None


@click.group()
def mcp() -> None:
    """Connect Claude Desktop (or any MCP client) to a wallet."""


@mcp.command()
@click.option(
    "--wallet", "wallet_id", metavar="WALLET", help="The wallet to set up (its id or name)."
)
@click.option("--all", "all_wallets", is_flag=True, help="Set up every active wallet.")
@click.option(
    "--expires-in",
    type=Duration(minimum=1),
    metavar="DURATION",
    help="Session lifetime: 7d, 12h, 3600 (default: the daemon's session_ttl, 86400 unless "
    "configured). The MCP server renews the session on its own.",
)
@click.option(
    "--write-config",
    is_flag=True,
    help="Merge the entries into Claude Desktop's config file, keeping everything else "
    "in it and a backup of the old file beside it.",
)
@click.option(
    "--max-per-tx",
    type=SOL,
    metavar="AMOUNT",
    help="The session sends at most this many SOL at once.",
)
@click.option(
    "--max-per-day",
    type=SOL,
    metavar="AMOUNT",
    help="The session sends at most this many SOL per 24 h.",
)
@click.option(
    "--allow-recipient",
    "recipients",
    type=ADDRESS,
    multiple=True,
    metavar="ADDR",
    help="The session sends only to this address (repeat for several).",
)
@click.option(
    "--budget",
    "budgets",
    type=BUDGET,
    multiple=True,
    metavar="DOLLARS/PERIOD",
    help="A dollar budget over every token: 10/day (the session's last 24 h), 2.50/tx "
    "(one send), 50/total (the session's life); repeat for several.",
)
@click.option(
    "--tokens",
    "token_refs",
    multiple=True,
    metavar="LIST",
    help="The only assets the session may send: symbols or mints, comma-separated "
    "(USDC or SOL,USDC); the chain's own coin only if named (SOL, ETH).",
)
@click.option(
    "--networks",
    "network_names",
    multiple=True,
    metavar="LIST",
    help="The only networks the session may send on, comma-separated (mainnet, base).",
)
@click.option(
    "--no-limits",
    is_flag=True,
    help="Clear the session's limits (without any limit option, those of the MCP session "
    "it replaces are kept).",
)
@click.option(
    "--http",
    "over_http",
    is_flag=True,
    help="For an MCP client that connects to the daemon's /mcp over HTTP (another machine, "
    "a hosted agent framework): print its config with the session token as a bearer. "
    "Replaces the wallet's earlier --http session, never the stdio one.",
)
@daemon_options
@password_option
@pass_state
def setup(
    state: State,
    wallet_id: str | None,
    all_wallets: bool,
    expires_in: int | None,
    write_config: bool,
    max_per_tx: int | None,
    max_per_day: int | None,
    recipients: tuple[str, ...],
    budgets: tuple[tuple[str, str], ...],
    token_refs: tuple[str, ...],
    network_names: tuple[str, ...],
    no_limits: bool,
    over_http: bool,
) -> None:
    """Create an MCP session for a wallet and print the Claude Desktop config.

    The session token goes to DATA_DIR/mcp-tokens/<walletId> (mode 0600), never to
    the screen; the waiaas-mcp server reads and renews it there. Running setup
    again replaces the wallet's earlier MCP session.

    With --http: a session for the daemon's /mcp instead, whose token the client
    config printed carries (the daemon renews that session while it is used).
    """
    if wallet_id and all_wallets:
        raise click.UsageError("--wallet and --all cannot be used together.")
    constraints = build_constraints(max_per_tx, max_per_day, recipients, no_limits)
    constraints = with_budgets(constraints, budgets, split(network_names), no_limits)
    tokens = split(token_refs)
    if tokens and no_limits:
        raise click.UsageError("--no-limits cannot be used with --tokens.")
    if over_http:
        if write_config:
            raise click.UsageError(
                "--write-config writes Claude Desktop's stdio entries; it cannot be used "
                "with --http."
            )
        setup_http(state, wallet_id, all_wallets, expires_in, constraints, tokens)
        return
    config_path = claude_config_path()
    if write_config:
        load_config(config_path)  # an unusable file stops us before the password is asked
    client = state.client()
    client.health()
    wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    chosen = choose_wallets(wallets, wallet_id, all_wallets)
    snippet = build_claude_desktop_config(
        [to_ref(w) for w in chosen],
        base_url=client.base_url,
        data_dir=state.data_dir,
        all_wallets=[to_ref(w) for w in wallets],
    )
    if write_config:
        # A key another server holds stops us before any session is created.
        merge_servers(load_config(config_path) or {}, snippet["mcpServers"])
    waiting_before = waiting_sends(client, {w["id"] for w in chosen})
    running = token_readers(config_path, snippet["mcpServers"])
    for wallet in chosen:
        scoped = with_tokens(client, wallet, constraints, tokens)
        item = provision(client, state.data_dir, wallet, expires_in, scoped)
        report(item)
        report_limits(client, item)
    if waiting_before:
        warn_dropped(waiting_before, waiting_sends(client, {w["id"] for w in chosen}))
    show(snippet, config_path)
    if write_config:
        write(config_path, snippet["mcpServers"], running)
    elif len(running) == len(snippet["mcpServers"]):
        click.echo(PICKED_UP)
    else:
        click.echo("Run again with --write-config to merge the entries into it.")


PICKED_UP = (
    "Claude Desktop already has these entries: a running waiaas-mcp picks up the new "
    "token from its file within a minute, no restart needed."
)
# What makes an entry read the same token file from the same daemon.
_TOKEN_SOURCE = ("WAIAAS_WALLET_ID", "WAIAAS_DATA_DIR", "WAIAAS_BASE_URL")


def token_readers(config_path: Path, servers: dict[str, Any]) -> set[str]:
    """Names of ``servers`` that the config file already starts reading the same token file.

    Such a server, once running, adopts a new token by itself (it polls its file),
    so the owner need not restart Claude Desktop for it.
    """
    try:
        current = (load_config(config_path) or {}).get("mcpServers")
    except (OSError, ValueError, click.ClickException):
        return set()
    if not isinstance(current, dict):
        return set()
    same = set()
    for name, entry in servers.items():
        old = current.get(name)
        if not isinstance(old, dict) or not isinstance(old.get("env"), dict):
            continue
        if old.get("command") != entry["command"] or old.get("args") != entry["args"]:
            continue
        if all(old["env"].get(key) == entry["env"].get(key) for key in _TOKEN_SOURCE):
            same.add(name)
    return same


def setup_http(
    state: State,
    wallet_id: str | None,
    all_wallets: bool,
    expires_in: int | None,
    constraints: dict[str, Any] | None,
    tokens: list[str] | None = None,
) -> None:
    """``--http``: an ``mcp-http`` session per wallet and the Streamable HTTP client config."""
    client = state.client()
    client.health()
    wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    chosen = choose_wallets(wallets, wallet_id, all_wallets)
    names = server_names(chosen, wallets)
    waiting_before = waiting_sends(client, {w["id"] for w in chosen})
    servers: dict[str, Any] = {}
    for wallet in chosen:
        scoped = with_tokens(client, wallet, constraints, tokens or [])
        item = create_session(client, wallet, HTTP_MCP_LABEL, expires_in, scoped)
        report(item)
        report_limits(client, item)
        servers[names[wallet["id"]]] = http_entry(client.base_url, item.token)
    if waiting_before:
        warn_dropped(waiting_before, waiting_sends(client, {w["id"] for w in chosen}))
    show_http(client.base_url, servers)


def server_names(chosen: list[dict[str, Any]], wallets: list[dict[str, Any]]) -> dict[str, str]:
    """``waiaas-<slug>`` per wallet id: the names the stdio entries use."""
    snippet = build_claude_desktop_config(
        [to_ref(w) for w in chosen],
        base_url="",
        data_dir=Path(),
        command=("waiaas-mcp", []),
        all_wallets=[to_ref(w) for w in wallets],
    )
    return {entry["env"]["WAIAAS_WALLET_ID"]: name for name, entry in snippet["mcpServers"].items()}


def mcp_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/mcp"


def http_entry(base_url: str, token: str) -> dict[str, Any]:
    """An ``mcpServers`` entry for a Streamable HTTP server, as Claude Code reads it."""
    return {
        "type": "http",
        "url": mcp_url(base_url),
        "headers": {"Authorization": f"Bearer {token}"},
    }


def show_http(base_url: str, servers: dict[str, Any]) -> None:
    """The client config, token included: the user asked for it; it is never logged."""
    click.echo("\nMCP client configuration (Streamable HTTP; the mcpServers entries to add):")
    click.echo(json.dumps({"mcpServers": servers}, indent=2, ensure_ascii=False))
    click.echo("\nOr, for Claude Code:")
    for name, entry in servers.items():
        header = entry["headers"]["Authorization"]
        click.echo(
            f"  claude mcp add --transport http {name} {entry['url']} "
            f'--header "Authorization: {header}"'
        )
    click.echo(
        "\nThe output above holds the session token: keep it as secret as a password. The "
        "daemon renews the session while it is used; revoke it with "
        "`waiaas session revoke ID`, or run this again to replace it."
    )
    host = urlsplit(base_url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            f"Note: {mcp_url(base_url)} is reachable from this machine only. For other "
            "machines, see docs/mcp.md (Over HTTP).",
            err=True,
        )


def waiting_sends(client: DaemonClient, wallet_ids: set[str]) -> set[str]:
    """Ids of the QUEUED / PENDING_APPROVAL sends of these wallets; empty if unreadable.

    Replacing a wallet's mcp session revokes the old one, and a revoked session's
    waiting sends are cancelled (SPEC 12): setup says so rather than drop them silently.
    """
    try:
        items = client.request("GET", "/v1/pending", master=True).get("items") or []
    except WaiaasError:
        return set()  # an older daemon without the route: nothing to warn about
    return {t["id"] for t in items if isinstance(t, dict) and t.get("walletId") in wallet_ids}


def dropped_sends(before: set[str], after: set[str]) -> list[str]:
    """Sends that waited before setup and no longer do, in a stable order."""
    return sorted(before - after)


def warn_dropped(before: set[str], after: set[str]) -> None:
    dropped = dropped_sends(before, after)
    if dropped:
        click.echo(
            f"Warning: {len(dropped)} waiting send(s) no longer wait: the replaced session's "
            f"queued and pending sends are cancelled ({', '.join(dropped)}). The agent must "
            "ask again.",
            err=True,
        )


def to_ref(wallet: dict[str, Any]) -> WalletRef:
    return WalletRef(id=wallet["id"], name=wallet["name"])


def listing(wallets: list[dict[str, Any]]) -> str:
    return ", ".join(f"{w['id']} ({w['name']})" for w in wallets)


def choose_wallets(
    wallets: list[dict[str, Any]], wallet_id: str | None, all_wallets: bool
) -> list[dict[str, Any]]:
    """Step 3: ``--wallet``, ``--all``, or the only active wallet."""
    active = [w for w in wallets if w.get("status") != "TERMINATED"]
    if wallet_id:
        wanted = wallet_id.strip()
        named = any(w["name"] == wanted for w in wallets)
        if not named and not any(w["id"].lower() == wanted.lower() for w in wallets):
            known = f"known wallets: {listing(wallets)}" if wallets else "there are no wallets"
            raise click.ClickException(f"unknown wallet id or name {wallet_id}; {known}.")
        found = find_wallet(wallets, wallet_id)
        if found not in active:
            raise click.ClickException(f"wallet {wallet_id} is terminated.")
        return [found]
    if not active:
        raise click.ClickException("No wallets found. Create one with `waiaas wallet create NAME`.")
    if all_wallets or len(active) == 1:
        return active
    raise click.ClickException(
        f"several wallets found: {listing(active)}. "
        "Choose one with --wallet ID, or set them all up with --all."
    )


def build_constraints(
    max_per_tx: int | None, max_per_day: int | None, recipients: tuple[str, ...], no_limits: bool
) -> dict[str, Any] | None:
    """The session's constraints (lamports as strings); None sends none, ``{}`` clears them."""
    limits: dict[str, Any] = {}
    if max_per_tx is not None:
        limits["maxAmountPerTx"] = str(max_per_tx)
    if max_per_day is not None:
        limits["maxAmountPerDay"] = str(max_per_day)
    if recipients:
        limits["allowedRecipients"] = list(dict.fromkeys(recipients))
    if no_limits and limits:
        raise click.UsageError(
            "--no-limits cannot be used with --max-per-tx, --max-per-day or --allow-recipient."
        )
    if max_per_tx is not None and max_per_day is not None and max_per_tx > max_per_day:
        raise click.UsageError("--max-per-tx cannot be more than --max-per-day.")
    return {} if no_limits else (limits or None)


def split(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values, in order, once each."""
    items = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return list(dict.fromkeys(items))


def with_budgets(
    constraints: dict[str, Any] | None,
    budgets: tuple[tuple[str, str], ...],
    networks: list[str],
    no_limits: bool,
) -> dict[str, Any] | None:
    """The dollar budgets and the networks added to the session's constraints."""
    if not budgets and not networks:
        return constraints
    if no_limits:
        raise click.UsageError("--no-limits cannot be used with --budget or --networks.")
    limits = dict(constraints or {})
    for field, dollars in budgets:
        limits[field] = dollars
    if networks:
        limits["allowedNetworks"] = networks
    per_tx, per_day = limits.get("maxUsdPerTx"), limits.get("maxUsdPerDay")
    total = limits.get("maxUsdTotal")
    for small, large, what in (
        (per_tx, per_day, "/tx than /day"),
        (per_day, total, "/day than /total"),
    ):
        if small is not None and large is not None and Decimal(small) > Decimal(large):
            raise click.UsageError(f"--budget: more {what}.")
    return limits


NATIVE_SYMBOLS = {"solana": ("SOL",), "evm": ("ETH", "POL")}


def with_tokens(
    client: DaemonClient,
    wallet: dict[str, Any],
    constraints: dict[str, Any] | None,
    tokens: list[str],
) -> dict[str, Any] | None:
    """``--tokens``: the registry's mints for the wallet's network, and whether its own coin."""
    if not tokens:
        return constraints
    natives = NATIVE_SYMBOLS.get(wallet.get("chain", "solana"), ())
    registry = (
        client.request("GET", "/v1/tokens", master=True, params={"network": wallet["network"]}).get(
            "items"
        )
        or []
    )
    mints: list[str] = []
    native = False
    for ref in tokens:
        if ref.upper() in natives or ref.lower() == "native":
            native = True
            continue
        found = next(
            (
                t["mint"]
                for t in registry
                if ref in (t.get("mint"), t.get("symbol")) or ref.upper() == t.get("symbol")
            ),
            None,
        )
        if found is None:
            raise click.ClickException(
                f"--tokens: {ref} is not in the {wallet['network']} token registry of the daemon "
                "(waiaas token list; or give the mint)."
            )
        mints.append(found)
    return {
        **(constraints or {}),
        "allowedTokens": list(dict.fromkeys(mints)),
        "allowNative": native,
    }


def provision(
    client: DaemonClient,
    data_dir: Path,
    wallet: dict[str, Any],
    expires_in: int | None,
    constraints: dict[str, Any] | None = None,
) -> Provisioned:
    """Steps 4 and 5: a session labelled ``mcp``, its token written atomically, 0600."""
    item = create_session(client, wallet, MCP_LABEL, expires_in, constraints)
    path = token_path(data_dir, wallet["id"])
    ensure_private_dir(data_dir)
    ensure_private_dir(path.parent)
    write_secret_file(path, item.token)
    return dataclasses.replace(item, token_path=path)


def create_session(
    client: DaemonClient,
    wallet: dict[str, Any],
    label: str,
    expires_in: int | None,
    constraints: dict[str, Any] | None,
) -> Provisioned:
    body: dict[str, Any] = {"walletId": wallet["id"], "label": label}
    if expires_in is not None:
        body["expiresIn"] = expires_in
    if constraints is not None:
        body["constraints"] = constraints
    try:
        created = client.request("POST", "/v1/sessions", master=True, json=body)
    except WaiaasError as exc:
        prefix = f"wallet {wallet['name']} ({wallet['id']})"
        raise click.ClickException(f"{prefix}: {describe(exc)}") from None
    return Provisioned(
        to_ref(wallet),
        created["id"],
        None,
        created.get("expiresAt"),
        created["token"],
        created.get("constraints", constraints),
    )


def report(item: Provisioned) -> None:
    """Step 6: which wallet, where its token is, when it expires. Never the token."""
    click.echo(f"Wallet:     {item.wallet.name} ({item.wallet.id})")
    click.echo(f"Session:    {item.session_id}")
    if item.token_path is not None:
        click.echo(f"Token file: {item.token_path} (mode 0600)")
        click.echo(f"Expires:    {iso_time(item.expires_at)}")
    else:
        click.echo(f"Expires:    {iso_time(item.expires_at)} unless used (renewed while in use)")


def rules_in_force(client: DaemonClient, item: Provisioned) -> tuple[Any, dict[str, Any]]:
    """(session constraints, wallet policy) as the daemon enforces them.

    The agent's own view (``GET /v1/wallet/policy`` with the new token) is the
    truth; a daemon without that route gives the owner's policy and the
    constraints setup sent or the daemon answered.
    """
    try:
        view = client.request("GET", "/v1/wallet/policy", token=item.token)
        return view.get("constraints"), view.get("policy") or {}
    except WaiaasError as exc:
        if exc.code != "NOT_FOUND":
            raise
    try:
        owner = client.request("GET", f"/v1/wallets/{item.wallet.id}/policy", master=True)
    except WaiaasError as exc:
        if exc.code != "NOT_FOUND":
            raise
        return item.constraints, {}
    return item.constraints, owner.get("policy") or {}


def report_limits(client: DaemonClient, item: Provisioned) -> None:
    """The limits in force for this session, and a warning when there are none."""
    try:
        constraints, policy = rules_in_force(client, item)
    except WaiaasError as exc:
        # The session and its token exist by now: say what could not be read, go on.
        click.echo(f"Warning: could not read the limits in force: {describe(exc)}", err=True)
        return
    session_lines = constraint_lines(constraints)
    wallet_lines = policy_lines(policy)
    click.echo("Session limits:" if session_lines else "Session limits: none")
    for line in session_lines:
        click.echo(line)
    click.echo("Wallet policy:" if wallet_lines else "Wallet policy:  none")
    for line in wallet_lines:
        click.echo(line)
    if not session_lines and not wallet_lines:
        click.echo(
            f"Warning: nothing limits wallet {item.wallet.name}: this session can spend all "
            "of it. Set limits with --max-per-tx / --max-per-day, or `waiaas policy set`.",
            err=True,
        )


def show(snippet: dict[str, Any], config_path: Path) -> None:
    """Steps 7 and 8: the snippet as JSON, and where Claude Desktop reads its config."""
    click.echo("\nClaude Desktop configuration (the mcpServers entries to add):")
    click.echo(json.dumps(snippet, indent=2, ensure_ascii=False))
    click.echo(f"\nClaude Desktop config file: {config_path}")


def write(config_path: Path, servers: dict[str, Any], running: set[str]) -> None:
    """Step 9; ``running``: the entries that already read the same token files."""
    result = install_servers(config_path, servers, now=datetime.now(UTC))
    if not result.changed:
        click.echo(f"{result.path} already has these entries; left as it was.")
        click.echo(PICKED_UP)
        return
    entries = "entry" if len(servers) == 1 else "entries"
    click.echo(f"Merged {len(servers)} {entries} into {result.path}")
    if result.backup:
        click.echo(f"Backup of the old file: {result.backup}")
    if len(running) == len(servers):
        # Only a name shown in Claude changed: the token is picked up anyway.
        click.echo(
            "A running waiaas-mcp picks up the new token within a minute; restart Claude "
            "Desktop only to show the changed entries."
        )
    else:
        click.echo("Restart Claude Desktop to load them.")
