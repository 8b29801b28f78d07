"""Approvals: the queued and pending sends of every wallet, with Approve and Reject.

The list refreshes itself (htmx polls ``/approvals/list``); ``/approvals/{id}``
is one send, the page a notification links to. Decisions go through the REST
routes' own handlers, so the rules (compare-and-swap, expiry, kill switch) are theirs.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import audit
from waiaas_daemon.schemas.policy import Decision
from waiaas_daemon.serving.api import path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.described import WAITING, describe
from waiaas_daemon.serving.console.reads import values_now
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


async def _waiting(request: Request) -> dict[str, object]:
    state = state_of(request)
    items = await describe(state, await state.db.waiting_transactions())
    return {"items": items, "values": await values_now(state, items)}


async def approvals(request: Request) -> Response:
    return render(request, "approvals.html", await _waiting(request))


async def approvals_list(request: Request) -> Response:
    return render(request, "approvals_list.html", await _waiting(request))


async def one(request: Request) -> Response:
    """A send's whole story: request, decision and its rule, approvals, outcome, chain."""
    state = state_of(request)
    tx = await state.db.get_transaction(path_id(request, "id", "TRANSACTION_NOT_FOUND"))
    if tx is None:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    (item,) = await describe(state, [tx])
    entries = await audit.of_transaction(state.db.reader, tx.id)
    labels = {s.id: s.label for s in await state.db.list_sessions(None)}
    return render(
        request,
        "approval.html",
        {
            "item": item,
            "values": await values_now(state, [item]),
            "waiting": tx.status in WAITING,
            "entries": entries,
            "actors": {e["seq"]: actor_name(e["actor"], labels) for e in entries},
        },
    )


def actor_name(actor: str, labels: dict[str, str | None]) -> str:
    """``owner``, ``daemon``, ``agent claude``, ``Telegram chat 42``."""
    if actor.startswith("session:"):
        session_id = actor.removeprefix("session:")
        return f"agent {labels.get(session_id) or session_id[:8]}"
    if actor.startswith("owner:telegram:"):
        return "owner (Telegram)"
    if actor.startswith("telegram:"):
        return f"Telegram chat {actor.removeprefix('telegram:')}"
    return actor


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
        Route("/transactions/{id}", page(one), methods=["GET"]),
    ]
