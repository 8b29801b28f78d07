"""masterAuth: the owner's list of waiting sends and the decisions on them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain import pending
from waiaas_daemon.schemas.policy import Decision, PendingList
from waiaas_daemon.schemas.transactions import Transaction
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.routes.transactions import transaction_model

TRANSACTION_ID = {"id": "Transaction id (any wallet's)."}


async def list_pending(request: Request) -> PendingList:
    """QUEUED and PENDING_APPROVAL sends of every wallet, oldest first."""
    rows = await state_of(request).db.waiting_transactions()
    return PendingList(items=[transaction_model(tx) for tx in rows])


async def approve_pending(request: Request) -> Transaction:
    """Approve a waiting send: it is sent now."""
    tx_id = path_id(request, "id", "TRANSACTION_NOT_FOUND")
    return transaction_model(await pending.approve(state_of(request), tx_id))


async def reject_pending(request: Request, body: Decision) -> Transaction:
    """Reject a waiting send."""
    tx_id = path_id(request, "id", "TRANSACTION_NOT_FOUND")
    return transaction_model(await pending.reject(state_of(request), tx_id, body.reason))


def routes() -> list[Route]:
    return [
        operation("GET", "/v1/pending", list_pending, auth="master", tag="pending"),
        operation(
            "POST",
            "/v1/pending/{id}/approve",
            approve_pending,
            auth="master",
            tag="pending",
            path_params=TRANSACTION_ID,
            errors=(
                "TRANSACTION_NOT_FOUND",
                "TRANSACTION_NOT_PENDING",
                "KILL_SWITCH_ACTIVE",
                "WALLET_SUSPENDED",
                "WALLET_TERMINATED",
                "SESSION_REVOKED",
                "CHAIN_ERROR",
            ),
        ),
        operation(
            "POST",
            "/v1/pending/{id}/reject",
            reject_pending,
            auth="master",
            tag="pending",
            path_params=TRANSACTION_ID,
            errors=("TRANSACTION_NOT_FOUND", "TRANSACTION_NOT_PENDING"),
        ),
    ]
