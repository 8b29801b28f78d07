"""One wallet: address, balance, sessions with Revoke, recent transactions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon import sessions, wallets
from waiaas_daemon.api import path_id
from waiaas_daemon.auth import state_of
from waiaas_daemon.console.reads import balances
from waiaas_daemon.console.web import action, page, redirect, render

TRANSACTIONS_SHOWN = 50


async def wallet_page(request: Request) -> Response:
    state = state_of(request)
    wallet = await wallets.get_wallet(state, path_id(request, "id", "WALLET_NOT_FOUND"))
    rows = await state.db.list_sessions(wallet.id)
    return render(
        request,
        "wallet.html",
        {
            "wallet": wallet,
            "balance": (await balances(state, [wallet]))[wallet.id],
            "sessions": [(s, sessions.status_of(state, s)) for s in rows],
            "transactions": await state.db.list_transactions(wallet.id, TRANSACTIONS_SHOWN, None),
        },
    )


async def revoke_session(request: Request) -> Response:
    state = state_of(request)
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    session_id = path_id(request, "session_id", "SESSION_NOT_FOUND")
    session = await state.db.get_session(session_id)
    # The form names both; a session of another wallet is not found here.
    if session is None or session.wallet_id != wallet_id:
        raise WaiaasError("SESSION_NOT_FOUND")
    await sessions.revoke(state, session_id)
    return redirect(f"/wallets/{wallet_id}")


def routes() -> list[Route]:
    return [
        Route("/wallets/{id}", page(wallet_page), methods=["GET"]),
        Route(
            "/wallets/{id}/sessions/{session_id}/revoke",
            action(revoke_session),
            methods=["POST"],
        ),
    ]
