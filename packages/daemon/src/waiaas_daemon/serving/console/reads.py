"""Reads the pages share: balances and token holdings from the chain, bounded in time.

A page must render even when the RPC node is slow or down, so each balance
has a short deadline and a failure shows as "unavailable" instead of an error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from waiaas_core.amounts import format_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import WalletRow

BALANCE_SECONDS = 3.0

log = logging.getLogger("waiaas_daemon.serving.console")


async def balances(state: DaemonState, wallets: Sequence[WalletRow]) -> dict[str, int | None]:
    """Lamports per wallet id, None where the chain did not answer in time."""
    result: dict[str, int | None] = {w.id: None for w in wallets}

    async def one(wallet: WalletRow) -> None:
        with anyio.move_on_after(BALANCE_SECONDS):
            try:
                result[wallet.id] = await state.chain_for(wallet.network).get_balance(
                    wallet.address
                )
            except WaiaasError as error:
                log.info("console: no balance for wallet %s: %s", wallet.id, error.code)

    async with anyio.create_task_group() as group:
        for wallet in wallets:
            if wallet.status == "ACTIVE":
                group.start_soon(one, wallet)
    return result


@dataclass(frozen=True)
class Holding:
    symbol: str | None
    mint: str
    amount: str  # in the token's own units, exact


async def holdings(state: DaemonState, wallet: WalletRow) -> list[Holding] | None:
    """The wallet's token accounts (SPL Token and Token-2022); None if the chain did not answer."""
    with anyio.move_on_after(BALANCE_SECONDS):
        try:
            registry = await state.db.list_tokens(wallet.network)
            held = await state.chain_for(wallet.network).token_accounts(
                wallet.address, tuple(t.mint for t in registry)
            )
        except WaiaasError as error:
            log.info("console: no token accounts for wallet %s: %s", wallet.id, error.code)
            return None
        symbols = {t.mint: t.symbol for t in await state.db.list_tokens(wallet.network)}
        return [
            Holding(symbols.get(b.mint), b.mint, format_units(b.amount, b.decimals)) for b in held
        ]
    return None
