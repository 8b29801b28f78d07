"""Finding a wallet by what the user typed: its id, or a name only one wallet has."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.client import DaemonClient
from waiaas_core.limits import canonical_uuid


def find_wallet(wallets: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The wallet whose id is ``ref`` (any case), else the one named ``ref``."""
    wanted = ref.strip()
    try:
        wallet_id = canonical_uuid(wanted.lower())
    except ValueError:
        wallet_id = None
    if wallet_id is not None:
        for wallet in wallets:
            if wallet["id"] == wallet_id:
                return wallet
    named = [w for w in wallets if w.get("name") == wanted]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        ids = ", ".join(w["id"] for w in named)
        raise click.ClickException(f"several wallets are named {wanted!r} ({ids}); use the id.")
    raise click.ClickException(
        f"no wallet has the id or name {wanted!r}; `waiaas wallet list` shows the wallets."
    )


def resolve_wallet(client: DaemonClient, ref: str) -> dict[str, Any]:
    """``GET /v1/wallets``, then :func:`find_wallet`."""
    wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    return find_wallet(wallets, ref)
