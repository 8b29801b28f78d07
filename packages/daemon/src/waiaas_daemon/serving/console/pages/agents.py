"""Agents: every session of every wallet, with its limits, what they leave, its renewals; Revoke."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.amounts import format_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import audit, sessions
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.policy import usd_micros
from waiaas_daemon.serving.api import path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.web import action, page, redirect, render
from waiaas_daemon.storage import SessionRow, WalletRow

ORDER = {"ACTIVE": 0, "EXPIRED": 1, "REVOKED": 2}


@dataclass(frozen=True)
class Agent:
    session: SessionRow
    status: str
    wallet: WalletRow | None
    last_seen: float | None
    limits: list[str]  # each constraint as a person reads it, with what it leaves today

    @property
    def name(self) -> str:
        return self.session.label or f"session {self.session.id[:8]}"


async def agents_page(request: Request) -> Response:
    state = state_of(request)
    wallets = {w.id: w for w in await state.db.list_wallets()}
    chosen = request.query_params.get("show", "active")
    seen = await audit.last_seen(state.db.reader)
    rows = []
    for session in await state.db.list_sessions(None):
        status = sessions.status_of(state, session)
        if chosen == "active" and status != "ACTIVE":
            continue
        wallet = wallets.get(session.wallet_id)
        limits = await _limits(state, session, wallet) if status == "ACTIVE" else _caps(session)
        rows.append(Agent(session, status, wallet, seen.get(session.id), limits))
    rows.sort(key=lambda a: (ORDER.get(a.status, 3), -(a.last_seen or a.session.created_at)))
    context = {
        "agents": rows,
        "show": chosen,
        "max_renewals": state.settings.max_renewals,
        "lifetime": state.settings.absolute_lifetime,
        "owned": {w.address: w.name for w in wallets.values()},
    }
    return render(request, "agents.html", context)


def _caps(session: SessionRow) -> list[str]:
    return _describe(session.constraints or {}, None, {})


async def _limits(state: DaemonState, session: SessionRow, wallet: WalletRow | None) -> list[str]:
    constraints = session.constraints or {}
    if not constraints or wallet is None:
        return _describe(constraints, None, {})
    now = int(state.now())
    inputs = await state.db.send_inputs(wallet.id, session.id, now)
    sol = inputs.daily
    tokens = {m: day for m, (day, _) in (await state.db.token_totals(wallet.id, now)).items()}
    registry = {t.mint: t for t in await state.db.list_tokens(wallet.network)}
    units = {m: (t.symbol, t.decimals) for m, t in registry.items()}
    usd = {"day": inputs.session_usd_daily, "total": inputs.session_usd_total}
    return _describe(constraints, sol, {"spent": tokens, "units": units, "usd": usd})


def _describe(constraints: dict[str, Any], sol_day: int | None, extra: dict[str, Any]) -> list[str]:
    """Each constraint: "at most 0.5 SOL a send", "1 SOL a day, 0.7 SOL left today"."""
    said = _amounts(constraints, "SOL", 9, sol_day)
    said += _dollars(constraints, extra.get("usd"))
    recipients = constraints.get("allowedRecipients")
    if recipients is not None:
        said.append(f"only to {len(recipients)} address{'es' if len(recipients) != 1 else ''}")
    allowed = constraints.get("allowedTokens")
    if allowed is not None:
        said.append(f"only {len(allowed)} token{'s' if len(allowed) != 1 else ''}")
    for mint, caps in (constraints.get("tokens") or {}).items():
        symbol, decimals = (extra.get("units") or {}).get(mint, (None, 0))
        spent = (extra.get("spent") or {}).get(mint, 0) if sol_day is not None else None
        said += _amounts(caps, symbol or f"base units of {mint[:8]}…", decimals or 0, spent)
    return said


def _amounts(caps: dict[str, Any], unit: str, decimals: int, spent: int | None) -> list[str]:
    said = []
    per_tx = caps.get("maxAmountPerTx")
    if per_tx is not None:
        said.append(f"at most {format_units(int(per_tx), decimals)} {unit} a send")
    per_day = caps.get("maxAmountPerDay")
    if per_day is not None:
        text = f"{format_units(int(per_day), decimals)} {unit} a day"
        if spent is not None:
            left = max(0, int(per_day) - spent)
            text += f", {format_units(left, decimals)} {unit} left for the last 24 h"
        said.append(text)
    return said


def _dollars(constraints: dict[str, Any], spent: dict[str, int] | None) -> list[str]:
    """The session's budgets in dollars (over every asset), with what is left of each."""
    said = []
    if constraints.get("maxUsdPerTx") is not None:
        said.append(f"at most ${constraints['maxUsdPerTx']} a send")
    for key, what, window in (("maxUsdPerDay", "a day", "day"), ("maxUsdTotal", "in all", "total")):
        if constraints.get(key) is None:
            continue
        text = f"${constraints[key]} {what}"
        if spent is not None:
            left = max(0, usd_micros(constraints[key]) - spent[window])
            text += f", ${format_units(left, 6)} left"
        said.append(text)
    return said


async def revoke(request: Request) -> Response:
    state = state_of(request)
    session_id = path_id(request, "id", "SESSION_NOT_FOUND")
    if await state.db.get_session(session_id) is None:
        raise WaiaasError("SESSION_NOT_FOUND")
    await sessions.revoke(state, session_id)
    return redirect("/agents")


def routes() -> list[Route]:
    return [
        Route("/agents", page(agents_page), methods=["GET"]),
        Route("/agents/{id}/revoke", action(revoke), methods=["POST"]),
    ]
