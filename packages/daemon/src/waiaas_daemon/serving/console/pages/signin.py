"""Sign-in with the master password (through MasterGuard, so it shares the lockout) and sign-out."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.sessions import COOKIE, cookie_header, expired_cookie_header
from waiaas_daemon.serving.console.web import PREFIX, action, current, redirect, render, store

# A console page, as a path (never a scheme or host): /console/ then letters, digits, - _ /.
NEXT = re.compile(r"/console/[A-Za-z0-9_\-/]{0,200}")


def next_path(raw: str | None) -> str:
    """Where to go after signing in: a console path of ours only, else the overview."""
    if raw and NEXT.fullmatch(raw):
        return raw.removeprefix(PREFIX)
    return "/"


async def signin_form(request: Request) -> Response:
    request.state.console = current(request)
    target = next_path(request.query_params.get("next"))
    if request.state.console is not None:
        return redirect(target)
    return render(request, "signin.html", {"error": None, "next": PREFIX + target})


async def sign_in(request: Request) -> Response:
    password = request.state.form.get("password", "")
    try:
        await state_of(request).master.check(password.encode())
    except WaiaasError as error:
        # Wrong password or lockout: the page says which, never what was typed.
        request.state.console = None
        target = PREFIX + next_path(request.state.form.get("next"))
        return render(request, "signin.html", {"error": error, "next": target}, status=error.status)
    sessions = store(request)
    sessions.end(request.cookies.get(COOKIE))  # a fresh id on every sign-in
    response = redirect(next_path(request.state.form.get("next")))
    response.headers.append("set-cookie", cookie_header(sessions.start()))
    return response


async def sign_out(request: Request) -> Response:
    store(request).end(request.cookies.get(COOKIE))
    response = redirect("/signin")
    response.headers.append("set-cookie", expired_cookie_header())
    return response


def routes() -> list[Route]:
    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", action(sign_in, signed_in=False), methods=["POST"]),
        Route("/signout", action(sign_out), methods=["POST"]),
    ]
