"""Overview: every wallet's assets and spending against its limits, what waits, the kill switch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_daemon.schemas.policy import Decision
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.reads import all_assets, spending, worths
from waiaas_daemon.serving.console.web import action, decode, page, reason_body, redirect, render
from waiaas_daemon.serving.routes import controls as control_routes


async def overview(request: Request) -> Response:
    state = state_of(request)
    wallets = await state.db.list_wallets()
    waiting = await state.db.waiting_transactions()
    live = [w for w in wallets if w.status != "TERMINATED"]
    assets = await all_assets(state, live)
    worth = await worths(state, live, assets)
    return render(
        request,
        "overview.html",
        {
            "wallets": live,
            "terminated": len(wallets) - len(live),
            "assets": assets,
            "worth": worth,
            "worth_total": sum(w.total for w in worth.values()),
            "worth_priced": any(w.priced for w in worth.values()),
            "worth_unpriced": sum(len(w.unpriced) for w in worth.values()),
            "spending": {w.id: await spending(state, w) for w in live},
            "pending_count": len(waiting),
            "approval_count": sum(1 for t in waiting if t.status == "PENDING_APPROVAL"),
            "kill_switch": await state.db.get_kill_switch(),
        },
    )


async def kill_switch_on(request: Request) -> Response:
    # The REST route's own handler: same validation of the reason, same event, same state.
    body = decode(Decision, reason_body(request))
    await control_routes.kill_switch_on(request, body)
    return redirect("/")


async def kill_switch_off(request: Request) -> Response:
    await control_routes.kill_switch_off(request)
    return redirect("/")


def routes() -> list[Route]:
    return [
        Route("/", page(overview), methods=["GET"]),
        Route("/kill-switch/on", action(kill_switch_on), methods=["POST"]),
        Route("/kill-switch/off", action(kill_switch_off), methods=["POST"]),
    ]
