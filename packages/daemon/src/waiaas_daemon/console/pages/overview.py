"""Overview: every wallet with its status and SOL balance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_daemon.auth import state_of
from waiaas_daemon.console.reads import balances
from waiaas_daemon.console.web import page, render


async def overview(request: Request) -> Response:
    state = state_of(request)
    wallets = await state.db.list_wallets()
    return render(
        request,
        "overview.html",
        {"wallets": wallets, "balances": await balances(state, wallets)},
    )


def routes() -> list[Route]:
    return [Route("/", page(overview), methods=["GET"])]
