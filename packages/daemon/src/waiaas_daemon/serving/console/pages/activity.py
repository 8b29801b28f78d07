"""Activity: sends and payments over time, per wallet and per agent, as a daily chart by asset."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.amounts import format_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console import chart
from waiaas_daemon.serving.console.described import Described, describe, native_unit
from waiaas_daemon.serving.console.web import page, render
from waiaas_daemon.storage import TransactionRow

PERIODS = (7, 30, 90)
SHOWN = 200
# Money that left, or is leaving: what the chart adds up.
MOVED = ("CONFIRMED", "SUBMITTED", "PENDING")
SPENDS = ("TRANSFER", "PAYMENT")
READ_AT_MOST = 10_000


@dataclass(frozen=True)
class Total:
    wallet: str
    agent: str
    unit: str
    count: int
    amount: str


def _filters(request: Request) -> dict[str, str]:
    chosen = {k: request.query_params.get(k, "").strip() for k in ("wallet", "agent", "asset")}
    days = request.query_params.get("days", "30").strip() or "30"
    if not days.isdigit() or int(days) not in PERIODS:
        raise WaiaasError("INVALID_REQUEST", f"days: must be one of {', '.join(map(str, PERIODS))}")
    chosen["days"] = days
    return chosen


async def _since(state: DaemonState, since: float) -> list[TransactionRow]:
    rows = await state.db.reader.execute_fetchall(
        "SELECT * FROM transactions WHERE created_at > ? ORDER BY seq DESC LIMIT ?",
        (int(since), READ_AT_MOST),
    )
    return [TransactionRow(**dict(r)) for r in rows]


def _asset_key(tx: TransactionRow) -> str:
    # A token by its address; a native coin by its symbol (SOL, ETH, POL) on the send's network.
    return tx.token_mint or native_unit(tx.network or "local")[0]


def _matches(tx: TransactionRow, chosen: dict[str, str]) -> bool:
    if chosen["wallet"] and tx.wallet_id != chosen["wallet"]:
        return False
    if chosen["agent"] and tx.session_id != chosen["agent"]:
        return False
    return not (chosen["asset"] and _asset_key(tx) != chosen["asset"])


async def activity_page(request: Request) -> Response:
    state = state_of(request)
    chosen = _filters(request)
    days = chart.days_ending(chart.day_of(state.now()), int(chosen["days"]))
    since = state.now() - int(chosen["days"]) * 86400
    rows = [tx for tx in await _since(state, since) if _matches(tx, chosen)]
    items = await describe(state, rows[:SHOWN], rules=False)
    spent = [tx for tx in rows if tx.type in SPENDS and tx.status in MOVED]
    everything = await describe(state, spent, rules=False)
    wallets = await state.db.list_wallets()
    sessions = await state.db.list_sessions(None)
    return render(
        request,
        "activity.html",
        {
            "chosen": chosen,
            "periods": PERIODS,
            "charts": _charts(everything, days),
            "totals": _totals(everything),
            "items": items,
            "more": len(rows) > SHOWN,
            "wallets": wallets,
            "agents": [
                (s.id, (s.label or f"session {s.id[:8]}"), _name(wallets, s.wallet_id))
                for s in sessions
            ],
            "assets": _assets(rows, chosen),
        },
    )


def _name(wallets: list[Any], wallet_id: str) -> str:
    return next((w.name for w in wallets if w.id == wallet_id), wallet_id[:8])


def _charts(items: list[Described], days: list[Any]) -> list[chart.Chart]:
    by_asset: dict[str, list[Described]] = defaultdict(list)
    for item in items:
        by_asset[_asset_key(item.tx)].append(item)
    charts = []
    for key in sorted(by_asset, key=lambda k: (k != "SOL", by_asset[k][0].unit)):
        group = by_asset[key]
        spends = [(d.tx.created_at, int(d.tx.amount)) for d in group]
        charts.append(chart.chart(group[0].unit, group[0].decimals, spends, days))
    return charts


def _totals(items: list[Described]) -> list[Total]:
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for item in items:
        key = (item.wallet_name, item.agent, item.unit)
        sums[key][0] += 1
        sums[key][1] += int(item.tx.amount)
        sums[key][2] = item.decimals
    return [
        Total(wallet, agent, unit, count, format_units(amount, decimals))
        for (wallet, agent, unit), (count, amount, decimals) in sorted(sums.items())
    ]


def _assets(rows: list[TransactionRow], chosen: dict[str, str]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {"SOL": "SOL"}
    for tx in rows:
        if tx.token_mint:
            seen.setdefault(tx.token_mint, tx.token_symbol or tx.token_mint[:8])
        else:
            seen.setdefault(_asset_key(tx), _asset_key(tx))
    if chosen["asset"]:
        seen.setdefault(chosen["asset"], chosen["asset"][:8])
    return list(seen.items())


def routes() -> list[Route]:
    return [Route("/activity", page(activity_page), methods=["GET"])]
