"""Audit log (filters by wallet and action, pages, chain check) and notifications
(channels, recent deliveries, a test), through the REST routes' own handlers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.audit import ACTIONS
from waiaas_daemon.schemas.audit import AuditQuery, NotificationQuery
from waiaas_daemon.serving.api import convert_query
from waiaas_daemon.serving.auth import state_of
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
    verification = None
    if request.query_params.get("verify"):
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
        },
    )


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
