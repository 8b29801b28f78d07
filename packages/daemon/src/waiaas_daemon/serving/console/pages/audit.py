"""Audit log (filters by wallet and action, pages, chain check) and notifications
(channels, recent deliveries, a test), through the REST routes' own handlers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.amounts import format_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.audit import ACTIONS
from waiaas_daemon.schemas.audit import AuditEntry, AuditQuery, NotificationQuery
from waiaas_daemon.serving.api import convert_query
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.described import native_unit
from waiaas_daemon.serving.console.web import action, page, redirect, render
from waiaas_daemon.serving.routes import audit as audit_routes
from waiaas_daemon.serving.routes import telegram as telegram_routes

FILTERS = ("walletId", "action", "cursor")


def _query(request: Request) -> tuple[AuditQuery, dict[str, str]]:
    """The filter form's values (a blank one is no filter) as the REST route's query model."""
    chosen = {name: request.query_params.get(name, "").strip() for name in FILTERS}
    return convert_query({k: v for k, v in chosen.items() if v}, AuditQuery), chosen


async def audit_page(request: Request) -> Response:
    query, chosen = _query(request)
    entries = await audit_routes.list_audit(request, query)
    wallets = await state_of(request).db.list_wallets()
    # The chain is checked on every visit: the page says whether the log was altered.
    verification = await audit_routes.verify_audit(request)
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "chosen": chosen,
            "wallets": wallets,
            "names": {w.id: w.name for w in wallets},
            "actions": sorted(ACTIONS),
            "verification": verification,
            "next_query": _next(chosen, entries.cursor),
            "readable": {e.seq: readable(e) for e in entries.items},
            "actors": {e.seq: actor_text(e) for e in entries.items},
            "raw": {e.seq: _raw(e) for e in entries.items},
        },
    )


_TIMES = ("executeAt", "approvalExpiresAt", "approval_expires_at", "execute_at", "until", "since")
_QUIET = ("mint", "kind")


def _is_time(key: str, value: Any) -> bool:
    # Unix seconds: the named ones, and any ``...At`` (expiresAt, pricedAt) that holds one.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return key in _TIMES or (key.endswith("At") and 10**9 <= value < 10**11)


def _shown(value: object) -> Markup:
    """A value as text; an address, signature or id (one long word) as code, which may
    break anywhere, so a long one never widens the table past the screen."""
    text = str(value)
    if len(text) >= 32 and not any(c.isspace() for c in text):
        return Markup('<code class="address">{}</code>').format(text)
    return Markup("{}").format(text)


def readable(entry: AuditEntry) -> list[Markup]:
    """The entry's details as a person reads them: amounts in units, the memo, the site."""
    details = dict(entry.details)
    parts: list[Markup] = []
    if "amount" in details:
        amount = str(details.pop("amount"))
        if entry.token is not None:
            unit, decimals = entry.token.symbol or entry.token.mint, entry.token.decimals
        elif details.get("mint") is None:
            # The native coin of the network the send went out on (SOL, ETH, POL).
            unit, decimals = native_unit(str(details.get("network") or "local"))
        else:
            unit, decimals = f"base units of {details['mint']}", 0
        shown = (
            format_units(int(amount), decimals) if amount.isdigit() and len(amount) < 40 else amount
        )
        parts.append(Markup("{} {}").format(shown, unit))
    if entry.origin:
        parts.append(Markup("pays {}").format(entry.origin))
    if "to" in details:
        parts.append(Markup("to {}").format(_shown(details.pop("to"))))
    if entry.memo:
        parts.append(Markup("memo “{}”").format(entry.memo))
    for key, value in details.items():
        if key in _QUIET:
            continue
        if _is_time(key, value):
            value = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        elif key == "policy" and isinstance(value, str):
            value = "the whole document (see raw)"
        elif isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        parts.append(Markup("{}: {}").format(key, _shown(value)))
    return parts


def actor_text(entry: AuditEntry) -> str:
    """``owner``, ``daemon``, ``agent claude``; a Telegram chat by its number."""
    actor = entry.actor
    if actor.startswith("session:"):
        return f"agent {entry.session_label or actor.removeprefix('session:')[:8]}"
    if actor.startswith("owner:telegram:"):
        return "owner (Telegram)"
    return actor


def _raw(entry: AuditEntry) -> str:
    return json.dumps(msgspec.to_builtins(entry), indent=2, ensure_ascii=False, sort_keys=True)


def _next(chosen: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params: dict[str, Any] = {k: v for k, v in chosen.items() if v and k != "cursor"}
    params["cursor"] = cursor
    return urlencode(params)


async def notifications_page(request: Request) -> Response:
    view = await audit_routes.list_notifications(request, NotificationQuery())
    telegram = await telegram_routes.telegram_status(request)
    context: dict[str, Any] = {
        "view": view,
        "sent": request.query_params.get("sent"),
        "error": None,
        "telegram": telegram,
    }
    return render(request, "notifications.html", context)


async def telegram_unlink(request: Request) -> Response:
    """The owner chat forgotten, as `waiaas telegram unlink` does."""
    await telegram_routes.unlink(request)
    return redirect("/notifications")


async def send_test(request: Request) -> Response:
    try:
        sent = await audit_routes.test_notification(request)
    except WaiaasError as error:
        if error.code != "INVALID_REQUEST":
            raise
        view = await audit_routes.list_notifications(request, NotificationQuery())
        telegram = await telegram_routes.telegram_status(request)
        context = {"view": view, "sent": None, "error": error, "telegram": telegram}
        return render(request, "notifications.html", context, status=error.status)
    return redirect(f"/notifications?sent={sent.id}")


def routes() -> list[Route]:
    return [
        Route("/audit", page(audit_page), methods=["GET"]),
        Route("/notifications", page(notifications_page), methods=["GET"]),
        Route("/notifications/test", action(send_test), methods=["POST"]),
        Route("/notifications/telegram/unlink", action(telegram_unlink), methods=["POST"]),
    ]
