"""Finding a wallet by what the user typed: its id, or a name only one wallet has."""

from __future__ import annotations

from typing import Any

import click

from waiaas_cli.client import DaemonClient
from waiaas_core.errors import WaiaasError
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
    # Names are unique among live wallets; a terminated wallet may have had the name before.
    live = [w for w in named if w.get("status") != "TERMINATED"]
    if len(live) == 1:
        return live[0]
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


def all_wallets(client: DaemonClient) -> list[dict[str, Any]]:
    """Every wallet, for lists that name wallets; empty if they cannot be read."""
    try:
        wallets = client.request("GET", "/v1/wallets", master=True)["items"]
    except WaiaasError:
        return []
    return [w for w in wallets if isinstance(w, dict) and "id" in w]


def wallet_names(client: DaemonClient) -> dict[str, str]:
    """Each wallet's name by id; empty if the wallets cannot be read."""
    return {w["id"]: w["name"] for w in all_wallets(client)}


def wallet_label(names: dict[str, str], wallet_id: Any) -> str:
    """``main`` for a known wallet, else its id as it came."""
    if wallet_id is None:
        return "-"
    return names.get(wallet_id) or str(wallet_id)
