"""Approvals: the queued and pending sends of every wallet, with Approve and Reject.

The list refreshes itself (htmx polls ``/approvals/list``); ``/approvals/{id}``
is one send, the page a notification links to. Decisions go through the REST
routes' own handlers, so the rules (compare-and-swap, expiry, kill switch) are theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.policy import Decision
from waiaas_daemon.serving.api import path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.web import (
    action,
    decode,
    fragment,
    page,
    reason_body,
    redirect,
    render,
)
from waiaas_daemon.serving.routes import pending as pending_routes
from waiaas_daemon.storage import TransactionRow

WAITING = ("QUEUED", "PENDING_APPROVAL")


@dataclass(frozen=True)
class Waiting:
    """One row of the list: the send, its wallet's name and the seconds left to its deadline."""

    tx: TransactionRow
    wallet_name: str
    left: float | None


def deadline(tx: TransactionRow) -> int | None:
    """When a waiting send goes out by itself (QUEUED) or expires (PENDING_APPROVAL)."""
    return tx.execute_at if tx.status == "QUEUED" else tx.approval_expires_at


async def _rows(state: DaemonState, txs: list[TransactionRow]) -> list[Waiting]:
    names = {w.id: w.name for w in await state.db.list_wallets()}
    now = state.now()
    return [
        Waiting(tx, names.get(tx.wallet_id, tx.wallet_id), _left(deadline(tx), now)) for tx in txs
    ]


def _left(at: int | None, now: float) -> float | None:
    return None if at is None else at - now


async def _waiting(request: Request) -> dict[str, object]:
    state = state_of(request)
    return {"items": await _rows(state, await state.db.waiting_transactions())}


async def approvals(request: Request) -> Response:
    return render(request, "approvals.html", await _waiting(request))


async def approvals_list(request: Request) -> Response:
    return render(request, "approvals_list.html", await _waiting(request))


async def one(request: Request) -> Response:
    state = state_of(request)
    tx = await state.db.get_transaction(path_id(request, "id", "TRANSACTION_NOT_FOUND"))
    if tx is None:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    (item,) = await _rows(state, [tx])
    return render(request, "approval.html", {"item": item, "waiting": tx.status in WAITING})


async def approve(request: Request) -> Response:
    tx = await pending_routes.approve_pending(request)
    return redirect(f"/approvals/{tx.id}")


async def reject(request: Request) -> Response:
    tx = await pending_routes.reject_pending(request, decode(Decision, reason_body(request)))
    return redirect(f"/approvals/{tx.id}")


def routes() -> list[Route]:
    return [
        Route("/approvals", page(approvals), methods=["GET"]),
        Route("/approvals/list", fragment(approvals_list), methods=["GET"]),
        Route("/approvals/{id}", page(one), methods=["GET"]),
        Route("/approvals/{id}/approve", action(approve), methods=["POST"]),
        Route("/approvals/{id}/reject", action(reject), methods=["POST"]),
    ]
