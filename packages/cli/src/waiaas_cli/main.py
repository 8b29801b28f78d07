"""`waiaas` command line: the root group and the error boundary of every command."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.commands.audit import audit
from waiaas_cli.commands.init import init
from waiaas_cli.commands.kill_switch import kill_switch
from waiaas_cli.commands.mcp import mcp
from waiaas_cli.commands.notify import notify
from waiaas_cli.commands.pending import approve, pending, reject
from waiaas_cli.commands.policy import policy
from waiaas_cli.commands.session import session
from waiaas_cli.commands.status import status
from waiaas_cli.commands.telegram import telegram
from waiaas_cli.commands.wallet import wallet
from waiaas_cli.errors import to_click
from waiaas_cli.options import State
from waiaas_core.config import ConfigError
from waiaas_core.errors import WaiaasError


class WaiaasGroup(click.Group):
    """Turns our errors into one ``Error: ...`` line and exit code 1, whichever command raised."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (WaiaasError, ConfigError, OSError) as exc:
            raise to_click(exc) from None


@click.group(cls=WaiaasGroup)
@click.version_option(package_name="waiaas-cli")
@click.pass_context
def main(ctx: click.Context) -> None:
    """waiaas: a self-hosted wallet daemon (Solana and EVM chains) for AI agents.

    Start the daemon with `waiaas-daemon serve`, then create a wallet and give
    Claude Desktop a session for it with `waiaas mcp setup`.
    """
    ctx.ensure_object(State)


main.add_command(init)
main.add_command(status)
main.add_command(wallet)
main.add_command(session)
main.add_command(mcp)
main.add_command(policy)
main.add_command(pending)
main.add_command(approve)
main.add_command(reject)
main.add_command(kill_switch)
main.add_command(audit)
main.add_command(notify)
main.add_command(telegram)
