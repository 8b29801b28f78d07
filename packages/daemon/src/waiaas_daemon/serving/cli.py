"""`waiaas-daemon serve`: configuration, master password, pid lock, then uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from waiaas_core.config import LOOPBACK_HOSTS, ConfigError, load_settings
from waiaas_core.paths import DATABASE_FILE, PID_FILE, ensure_private_dir, resolve_data_dir
from waiaas_daemon.domain.state import MIN_PASSWORD_LENGTH, StartupError
from waiaas_daemon.serving.server import (
    EVENT_LOOPS,
    HTTP_IMPLEMENTATIONS,
    ConnectionLimits,
    loop_factory,
    run_server,
)
from waiaas_daemon.storage import SchemaTooNew

LOCAL_NODE_FILE = "local-node.db"


@click.group()
@click.version_option(package_name="waiaas-daemon")
def main() -> None:
    """waiaas wallet daemon: holds the keys and answers the REST API."""


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: ~/.waiaas.")
@click.option("--host", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="0 takes a free port (default 3100).")
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the master password (else $WAIAAS_MASTER_PASSWORD, else a prompt).",
)
# Hidden: for tests and benchmarks, not a contract (SPEC 11 fixes 10 s and 30 s).
@click.option(
    "--header-timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, hidden=True
)
@click.option(
    "--body-timeout", type=click.FloatRange(min=0, min_open=True), default=30.0, hidden=True
)
@click.option("--http", type=click.Choice(HTTP_IMPLEMENTATIONS), default="auto", hidden=True)
@click.option("--loop", type=click.Choice(EVENT_LOOPS), default="auto", hidden=True)
def serve(
    data_dir: Path | None,
    host: str | None,
    port: int | None,
    password_file: Path | None,
    header_timeout: float,
    body_timeout: float,
    http: str,
    loop: str,
):
    """Run the daemon until SIGTERM or SIGINT.

    The first start on an empty data dir sets the master password; later
    starts check it.
    """
    _setup_logging()
    directory = resolve_data_dir(data_dir)
    try:
        settings = load_settings(directory, overrides={"host": host, "port": port})
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    ensure_private_dir(directory)
    with _pid_lock(directory):
        # On a shared database another daemon may have set the password already.
        first_run = _is_first_run(directory) and not settings.storage_url
        password = _master_password(password_file, first_run=first_run)
        limits = ConnectionLimits(header_timeout=header_timeout, body_timeout=body_timeout)
        try:
            with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:
                runner.run(run_server(settings, directory, password, limits=limits, http=http))
        except (StartupError, SchemaTooNew) as exc:
            raise click.ClickException(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"cannot use {directory / DATABASE_FILE}: {exc}") from None


@main.command("x402-demo")
@click.option(
    "--base-url",
    default="http://127.0.0.1:3100",
    envvar="WAIAAS_BASE_URL",
    show_default=True,
    help="The running daemon (its network must be local).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4021,
    show_default=True,
    help="Where the paid API listens on 127.0.0.1 (0 takes a free port).",
)
@click.option(
    "--chain",
    type=click.Choice(["solana", "evm"]),
    default="solana",
    show_default=True,
    help="Where it is paid: Solana's local chain, or the embedded EVM (evm-local).",
)
@click.option(
    "--wallet",
    "wallet_name",
    help="The wallet that pays (default x402-demo, x402-demo-evm with --chain evm): made "
    "if missing, given 5 test USDC, allowed to pay the demo.",
)
@click.option(
    "--password-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File holding the master password (else $WAIAAS_MASTER_PASSWORD, else a prompt).",
)
def x402_demo(
    base_url: str, port: int, chain: str, wallet_name: str | None, password_file: Path | None
) -> None:
    """Serve a paid API (x402) and its facilitator on the daemon's local chain (Solana
    local, or with --chain evm the embedded EVM).

    Sets up the owner's side once through the daemon's REST API (a wallet with test USDC,
    a shop wallet, the wallet's policy allowing exactly this demo's host:port), then
    serves until Ctrl-C. Pay it with the MCP tool pay_for_resource.
    """
    import anyio

    from waiaas_daemon.serving import x402_demo as demo

    logging.basicConfig(level=logging.WARNING, format="[x402-demo] %(message)s")
    password = _master_password(password_file, first_run=False)

    def say(line: str) -> None:
        click.echo(line, err=True)

    try:
        payer = wallet_name or ("x402-demo-evm" if chain == "evm" else "x402-demo")
        anyio.run(
            lambda: demo.run(base_url, password, port=port, payer_name=payer, chain=chain, say=say)
        )
    except demo.DemoError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


@main.command("local-node")
@click.option(
    "--ledger",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The node's own SQLite file (default: DATA_DIR/local-node.db).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="Default: ~/.waiaas.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8899, show_default=True, help="0: any."
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a host other than loopback (the node has a faucet: anyone reaching it "
    "can mint test SOL and send transactions).",
)
def local_node(
    ledger: Path | None, data_dir: Path | None, host: str, port: int, allow_remote: bool
) -> None:
    """Serve the local chain (LiteSVM) as a Solana JSON-RPC node for several daemons.

    Point each daemon at it with network = "local" and rpc_url = the URL it
    prints. The ledger (accounts and transaction history) survives restarts.
    """
    from waiaas_daemon.serving.local_node import run_node

    _setup_logging()
    if host not in LOOPBACK_HOSTS and not allow_remote:
        raise click.ClickException(
            f"{host} is not a loopback address: the node would be reachable from the network. "
            "Pass --allow-remote if that is what you want."
        )
    if ledger is None:
        directory = resolve_data_dir(data_dir)
        ensure_private_dir(directory)
        ledger = directory / LOCAL_NODE_FILE
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(ledger.with_name(ledger.name + ".lock"), f"the ledger {ledger}"):
        try:
            asyncio.run(run_node(ledger, host, port, any_host=allow_remote))
        except StartupError as exc:
            raise click.ClickException(str(exc)) from None
        except sqlite3.DatabaseError as exc:
            raise click.ClickException(f"cannot use {ledger}: {exc}") from None


@contextlib.contextmanager
def _file_lock(path: Path, what: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(f"another local node is running on {what}") from None
        yield
    finally:
        os.close(fd)


def _setup_logging() -> None:
    level = os.environ.get("WAIAAS_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if level != "DEBUG":
        # The MCP SDK says "Terminating session: None" (and the like) on every /mcp call:
        # noise that buries the daemon's own lines. Its warnings and errors still show.
        logging.getLogger("mcp").setLevel(logging.WARNING)
        # httpx says "HTTP Request: POST ..." at INFO for every call to a chain node:
        # four lines per send, about a tenth of a send's CPU (docs/benchmarks.md).
        logging.getLogger("httpx").setLevel(logging.WARNING)


def _is_first_run(directory: Path) -> bool:
    return not (directory / DATABASE_FILE).exists()


def _master_password(password_file: Path | None, *, first_run: bool) -> str:
    if password_file is not None:
        try:
            password = password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise click.ClickException(f"cannot read --password-file: {exc.strerror}") from None
    elif "WAIAAS_MASTER_PASSWORD" in os.environ:
        password = os.environ["WAIAAS_MASTER_PASSWORD"]
    elif sys.stdin.isatty():
        password = _prompt(first_run)
    else:
        raise click.ClickException(
            "no master password: use --password-file or $WAIAAS_MASTER_PASSWORD "
            "(standard input is not a terminal to ask on)"
        )
    if not password:
        raise click.ClickException("the master password is empty")
    return password


def _prompt(first_run: bool) -> str:
    if not first_run:
        return click.prompt("Master password", hide_input=True, err=True)
    # A short password is asked again: ending the daemon would lose what was typed.
    return click.prompt(
        f"Set the master password (at least {MIN_PASSWORD_LENGTH} characters)",
        hide_input=True,
        confirmation_prompt=True,
        err=True,
        value_proc=_long_enough,
    )


def _long_enough(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise click.UsageError(
            f"the master password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    return value


@contextlib.contextmanager
def _pid_lock(directory: Path) -> Iterator[None]:
    """daemon.pid, locked: two daemons on one data dir would fork the local ledger."""
    path = directory / PID_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise click.ClickException(
                f"another waiaas-daemon (pid {other}) is running on {directory}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        os.close(fd)
