"""The owner console (SPEC 15): server-rendered pages under /console.

The daemon mounts it with ``*console.routes(state)`` in ``create_app``. To add
a page: a module in ``pages/`` whose ``routes()`` wraps one function per path
in ``page`` (GET) or ``action`` (POST), a template extending ``base.html``,
its module in ``PAGES`` below, and a link in the nav of ``base.html``.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.console.pages import (
    activity,
    agents,
    approvals,
    audit,
    consent,
    overview,
    signin,
    wallet,
)
from waiaas_daemon.serving.console.sessions import ConsoleSessions
from waiaas_daemon.serving.console.web import (
    HERE,
    PREFIX,
    SECURITY_HEADERS,
    ConsoleGuard,
    current,
    error_page,
    redirect,
)

PAGES = [signin, overview, agents, activity, approvals, wallet, audit, consent]


async def to_overview(request: Request) -> Response:
    response = redirect("/")
    response.headers.update(SECURITY_HEADERS)
    return response


async def not_found(request: Request) -> Response:
    # Answered inside the mount, so even a mistyped path gets the page headers.
    request.state.console = current(request)
    return error_page(request, WaiaasError("NOT_FOUND"))


def routes(state: DaemonState) -> list[BaseRoute]:
    """The console's routes; its sessions live as long as this daemon process."""
    sessions = ConsoleSessions(state.clock)
    inner: list[BaseRoute] = [route for module in PAGES for route in module.routes()]
    inner.append(Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"))
    inner.append(Route("/{path:path}", not_found, methods=["GET", "POST"]))
    return [
        Route(PREFIX, to_overview, methods=["GET"]),
        Mount(PREFIX, routes=inner, middleware=[Middleware(ConsoleGuard, sessions=sessions)]),
    ]
