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
from waiaas_daemon.serving.console.described import WAITING, Described
from waiaas_daemon.storage import WalletRow

BALANCE_SECONDS = 3.0

log = logging.getLogger("waiaas_daemon.serving.console")


@dataclass(frozen=True)
class AssetBalance:
    """One asset a wallet holds, in its own units: SOL first, then each token account."""

    symbol: str | None
    mint: str | None
    amount: str  # whole units, exact
    raw: int
    decimals: int


async def assets(state: DaemonState, wallet: WalletRow) -> list[AssetBalance] | None:
    """The native coin and every token of the wallet; None if the chain did not answer in time."""
    with anyio.move_on_after(BALANCE_SECONDS):
        try:
            chain = state.chain_for(wallet.network)
            registry = await state.db.list_tokens(wallet.network)
            native = await chain.get_balance(wallet.address)
            held = await chain.token_accounts(wallet.address, tuple(t.mint for t in registry))
        except WaiaasError as error:
            log.info("console: no assets for wallet %s: %s", wallet.id, error.code)
            return None
        symbols = {t.mint: t.symbol for t in registry}
        decimals = chain.native_decimals
        items = [
            AssetBalance(
                chain.native_symbol, None, format_units(native, decimals), native, decimals
            )
        ]
        items += [
            AssetBalance(
                symbols.get(b.mint),
                b.mint,
                format_units(b.amount, b.decimals),
                b.amount,
                b.decimals,
            )
            for b in held
        ]
        return items
    return None


async def all_assets(
    state: DaemonState, wallets: Sequence[WalletRow]
) -> dict[str, list[AssetBalance] | None]:
    """Each live wallet's assets, read concurrently (a terminated wallet's: an empty list)."""
    result: dict[str, list[AssetBalance] | None] = {w.id: [] for w in wallets}

    async def one(wallet: WalletRow) -> None:
        result[wallet.id] = await assets(state, wallet)

    async with anyio.create_task_group() as group:
        for wallet in wallets:
            if wallet.status != "TERMINATED":
                group.start_soon(one, wallet)
    return result


@dataclass(frozen=True)
class Spend:
    """What one asset's counted sends add up to, against the policy's limits."""

    symbol: str
    mint: str | None
    decimals: int
    day: int
    month: int
    daily_limit: int | None
    monthly_limit: int | None


async def spending(state: DaemonState, wallet: WalletRow) -> list[Spend]:
    """SOL, and every token the wallet sent or has a limit for: 24 h and 30 day totals."""
    from waiaas_core.networks import NETWORKS
    from waiaas_daemon.domain import policy
    from waiaas_daemon.schemas.policy import usd_micros

    native = NETWORKS.get(wallet.network)

    now = int(state.now())
    row = await state.db.get_policy(wallet.id)
    rules = policy.load(row.document if row else None)
    sol = await state.db.send_inputs(wallet.id, None, now)
    out = [
        Spend(
            native.native_symbol if native else "SOL",
            None,
            native.native_decimals if native else 9,
            sol.daily,
            sol.monthly,
            _int(rules.daily_limit),
            _int(rules.monthly_limit),
        )
    ]
    usd = rules.usd
    if sol.usd_daily or sol.usd_monthly or (usd is not None and usd.any()):
        # Every asset's sends together, in micro-dollars, as the dollar rules count them.
        out.append(
            Spend(
                "USD",
                None,
                6,
                sol.usd_daily,
                sol.usd_monthly,
                usd_micros(usd.daily_limit) if usd and usd.daily_limit else None,
                usd_micros(usd.monthly_limit) if usd and usd.monthly_limit else None,
            )
        )
    totals = await state.db.token_totals(wallet.id, now)
    registry = {t.mint: t for t in await state.db.list_tokens(wallet.network)}
    mints = [*totals, *(m for m in (rules.tokens or {}) if m not in totals)]
    for mint in mints:
        limits = (rules.tokens or {}).get(mint)
        token = registry.get(mint)
        day, month = totals.get(mint, (0, 0))
        out.append(
            Spend(
                token.symbol if token else mint[:8] + "…",
                mint,
                token.decimals if token else 0,
                day,
                month,
                _int(limits.daily_limit) if limits else None,
                _int(limits.monthly_limit) if limits else None,
            )
        )
    return out


def _int(value: str | None) -> int | None:
    return None if value is None else int(value)


# The longest an overview waits for prices it has not cached (the price service then
# does not ask a source that failed again for its max_age, so a page is slowed once).
PRICE_SECONDS = 2.0


@dataclass(frozen=True)
class Worth:
    """One holding in dollars: its value in micro-dollars, or why there is none."""

    micros: int | None
    why: str | None = None


@dataclass(frozen=True)
class WalletWorth:
    """A wallet's holdings in dollars: each held asset's worth by its index in the
    wallet's asset list, the sum of those with a price, and the ones without."""

    worth: dict[int, Worth]
    total: int  # micro-dollars of the holdings that have a price
    unpriced: list[str]  # "5 FOO" for each held asset without a price
    priced: int  # how many held assets have a price


async def worths(
    state: DaemonState,
    wallets: Sequence[WalletRow],
    held: dict[str, list[AssetBalance] | None],
) -> dict[str, WalletWorth]:
    """What each wallet's held assets are worth, as the price service values them now.

    Only assets with a balance are valued (nothing is asked for a wallet that holds
    nothing), all at once, each within ``PRICE_SECONDS``; the price service's cache
    answers without any request while its price is fresh.
    """
    jobs = [
        (wallet, index, item)
        for wallet in wallets
        for index, item in enumerate(held.get(wallet.id) or [])
        if item.raw > 0
    ]
    if not jobs:
        return {}
    from waiaas_daemon.domain.prices import Asset, NoPrice

    service = state.price_service()
    found: dict[tuple[str, int], Worth] = {}

    async def one(wallet: WalletRow, index: int, item: AssetBalance) -> None:
        asset = Asset(wallet.chain, wallet.network, item.mint, item.symbol)
        try:
            value = await service.value_soon(asset, item.raw, item.decimals, wait=PRICE_SECONDS)
        except NoPrice as exc:
            found[(wallet.id, index)] = Worth(None, str(exc))
        else:
            found[(wallet.id, index)] = Worth(value.micros)

    fetch = []
    for wallet, index, item in jobs:
        asset = Asset(wallet.chain, wallet.network, item.mint, item.symbol)
        try:
            value = service.value_at_hand(asset, item.raw, item.decimals)
        except NoPrice as exc:
            found[(wallet.id, index)] = Worth(None, str(exc))
            continue
        if value is None:
            fetch.append((wallet, index, item))
        else:
            found[(wallet.id, index)] = Worth(value.micros)
    if fetch:  # only prices not at hand are fetched, all at once
        async with anyio.create_task_group() as group:
            for job in fetch:
                group.start_soon(one, *job)
    result: dict[str, WalletWorth] = {}
    for wallet in wallets:
        items = held.get(wallet.id) or []
        worth = {i: found[(wallet.id, i)] for i in range(len(items)) if (wallet.id, i) in found}
        if not worth:
            continue
        result[wallet.id] = WalletWorth(
            worth=worth,
            total=sum(w.micros for w in worth.values() if w.micros is not None),
            unpriced=[
                f"{items[i].amount} {items[i].symbol or 'unknown token'}"
                for i, w in worth.items()
                if w.micros is None
            ],
            priced=sum(1 for w in worth.values() if w.micros is not None),
        )
    return result


async def values_now(state: DaemonState, items: Sequence[Described]) -> dict[str, Worth]:
    """What each waiting send the daemon did not value when it decided is worth now (the
    owner decides with it in mind), by send id; bounded and cached as ``worths``."""
    from waiaas_core.networks import NETWORKS

    todo = [
        item
        for item in items
        if item.tx.status in WAITING
        and item.tx.usd_micros is None
        and item.tx.amount.isdigit()
        and item.network in NETWORKS
    ]
    if not todo:
        return {}
    from waiaas_daemon.domain.prices import Asset, NoPrice

    service = state.price_service()
    found: dict[str, Worth] = {}

    def asset_of(item: Described) -> Asset:
        tx = item.tx
        return Asset(NETWORKS[item.network].family, item.network, tx.token_mint, tx.token_symbol)

    async def one(item: Described) -> None:
        try:
            value = await service.value_soon(
                asset_of(item), int(item.tx.amount), item.decimals, wait=PRICE_SECONDS
            )
        except NoPrice as exc:
            found[item.tx.id] = Worth(None, str(exc))
        else:
            found[item.tx.id] = Worth(value.micros)

    fetch = []
    for item in todo:
        try:
            value = service.value_at_hand(asset_of(item), int(item.tx.amount), item.decimals)
        except NoPrice as exc:
            found[item.tx.id] = Worth(None, str(exc))
            continue
        if value is None:
            fetch.append(item)
        else:
            found[item.tx.id] = Worth(value.micros)
    if fetch:  # only prices not at hand are fetched, all at once
        async with anyio.create_task_group() as group:
            for item in fetch:
                group.start_soon(one, item)
    return found
