"""masterAuth: the audit log, its verification, and the owner's notifications (SPEC 13)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import audit, notify
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.audit import (
    AuditPage,
    AuditQuery,
    AuditVerification,
    NotificationQuery,
    Notifications,
    NotificationTest,
)
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.routes.transactions import token_field
from waiaas_daemon.storage import Event, TransactionRow


async def list_audit(request: Request, query: AuditQuery) -> AuditPage:
    """Audit entries, newest first, by wallet and action."""
    page = await audit.list_entries(
        state_of(request).db.reader,
        wallet_id=query.wallet_id,
        action=query.action,
        limit=query.limit,
        cursor=query.cursor,
    )
    return await described(state_of(request), msgspec.convert(page, AuditPage))


async def described(state: DaemonState, page: AuditPage) -> AuditPage:
    """Each entry with the names a person reads it by: wallet, session label, memo, site."""
    names = {w.id: w.name for w in await state.db.list_wallets()}
    labels = {s.id: s.label for s in await state.db.list_sessions(None)}
    sends: dict[str, TransactionRow | None] = {}
    for entry in page.items:
        if entry.transaction_id and entry.transaction_id not in sends:
            sends[entry.transaction_id] = await state.db.get_transaction(entry.transaction_id)
    items = []
    for entry in page.items:
        tx = sends.get(entry.transaction_id) if entry.transaction_id else None
        items.append(
            msgspec.structs.replace(
                entry,
                wallet_name=names.get(entry.wallet_id) if entry.wallet_id else None,
                session_label=labels.get(entry.session_id) if entry.session_id else None,
                memo=tx.memo if tx else None,
                origin=tx.payment_origin if tx else None,
                token=token_field(tx) if tx else None,
            )
        )
    return AuditPage(items=items, cursor=page.cursor)


async def verify_audit(request: Request) -> AuditVerification:
    """Recompute the audit log's hash chain; an edited or deleted row gives firstBadSeq."""
    result = await audit.verify(state_of(request).db.reader)
    return msgspec.convert(result, AuditVerification)


async def list_notifications(request: Request, query: NotificationQuery) -> Notifications:
    """Recent notification deliveries, and the channel settings with their secrets masked."""
    state = state_of(request)
    deliveries = await notify.list_deliveries(state.db.reader, query.limit)
    view = {"settings": notify.settings_view(state.settings), "deliveries": deliveries}
    return msgspec.convert(view, Notifications)


async def test_notification(request: Request) -> NotificationTest:
    """Send a `test` notification to every configured channel."""
    state = state_of(request)
    notifier = state.notifier
    channels = list(notifier.channels() if notifier else notify.configured_channels(state.settings))
    if not channels:
        raise WaiaasError(
            "INVALID_REQUEST",
            "notifications: no channel is configured",
            hint="Set webhook_url, ntfy_url, telegram_*, discord_webhook_url or "
            "slack_webhook_url under [notifications] in config.toml and restart.",
        )
    ids = await state.db.emit([Event("owner", "notify.test")])
    if not ids:
        raise WaiaasError("INVALID_REQUEST", "notifications: no channel took the test event")
    return NotificationTest(id=ids[0], channels=channels)


def routes() -> list[Route]:
    return [
        operation("GET", "/v1/audit", list_audit, auth="master", tag="audit"),
        operation("GET", "/v1/audit/verify", verify_audit, auth="master", tag="audit"),
        operation(
            "GET", "/v1/admin/notifications", list_notifications, auth="master", tag="notify"
        ),
        operation(
            "POST",
            "/v1/admin/notifications/test",
            test_notification,
            auth="master",
            tag="notify",
            status=202,
            errors=("INVALID_REQUEST",),
        ),
    ]
