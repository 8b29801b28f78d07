"""What every console page shares: templates, security headers, sign-in and CSRF guards.

A page is a route function wrapped by ``page`` (GET, signed in) or
``action`` (POST, signed in, from the console, with the session's CSRF
token); both render a WaiaasError as an HTML page instead of the API's JSON.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs

import msgspec
from markupsafe import Markup
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from waiaas_core.amounts import format_duration, format_units
from waiaas_core.errors import WaiaasError
from waiaas_core.networks import NETWORKS
from waiaas_daemon import schemas
from waiaas_daemon.serving.api import validation_error
from waiaas_daemon.serving.console.origin import from_console
from waiaas_daemon.serving.console.sessions import (
    COOKIE,
    ConsoleSession,
    ConsoleSessions,
    csrf_matches,
)

HERE = Path(__file__).parent
PREFIX = "/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}

T = TypeVar("T")
Endpoint = Callable[[Request], Awaitable[Response]]


def _sol(lamports: int | str | None) -> str:
    if lamports is None:
        return "unavailable"
    return format_units(int(lamports), 9)


def _native(base_units: int | str | None, network: str) -> str:
    """A native coin amount in whole units with its symbol: "1.5 SOL", "0.25 ETH"."""
    if base_units is None:
        return "unavailable"
    info = NETWORKS.get(network)
    symbol, decimals = (info.native_symbol, info.native_decimals) if info else ("SOL", 9)
    return f"{format_units(int(base_units), decimals)} {symbol}"


def _asset_amount(tx: Any) -> str:
    """A transaction's amount in whole units of its asset: "0.25 USDC", "1.5 SOL", "1 ETH"."""
    decimals = getattr(tx, "token_decimals", None)
    if decimals is None:
        network = getattr(tx, "network", None)
        if network and network in NETWORKS and NETWORKS[network].native_symbol != "SOL":
            return _native(tx.amount, network)
        return f"{_sol(tx.amount)} SOL"
    label = getattr(tx, "token_symbol", None) or "tokens"
    return f"{format_units(int(tx.amount), decimals)} {label}"


def _units(value: Any, decimals: int) -> str:
    """Base units as whole units (``250000`` at 6 decimals: ``0.25``); other values as they are."""
    text = str(value)
    if not (text.isascii() and text.isdigit() and len(text) <= 40):
        return text
    return format_units(int(text), decimals)


def _usd(tx: Any) -> str:
    """`` ≈ $12.50`` when the send was valued in dollars; nothing otherwise."""
    micros = getattr(tx, "usd_micros", None)
    if micros is None:
        return ""
    return f" ≈ ${format_units(int(micros), 6)}"


def _dollars(micros: int | None) -> str:
    """Micro-dollars to the cent as a person reads them: "$1,234.57", "< $0.01"."""
    if micros is None:
        return ""
    if 0 < micros < 10_000:
        return "< $0.01"
    cents = (Decimal(micros) / 10**6).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"${cents:,}"


def _value_now(worth: Any) -> Markup:
    """A waiting send's value at current prices (``reads.values_now``), as one span."""
    if worth is None:
        return Markup("")
    if worth.micros is not None:
        return Markup(' <span class="usd nowrap">≈ {} now</span>').format(_dollars(worth.micros))
    return Markup(' <span class="muted no-price" title="{}">· no USD price</span>').format(
        worth.why
    )


def _left(seconds: float | None) -> str:
    """Seconds until a deadline as a person reads it: "14m 05s", "2h 03m", "due"."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "due"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def _when(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _limits(constraints: dict[str, Any] | None) -> str:
    """A session's constraints as a person reads them: SOL, dollars, scopes ("-": none)."""
    if not constraints:
        return "-"
    parts: list[str] = []
    for field, text in (("maxAmountPerTx", "per send"), ("maxAmountPerDay", "per day")):
        if constraints.get(field) is not None:
            parts.append(f"{_sol(constraints[field])} SOL {text}")
    for field, text in (
        ("maxUsdPerTx", "per send"),
        ("maxUsdPerDay", "per day"),
        ("maxUsdTotal", "in total"),
    ):
        if constraints.get(field) is not None:
            parts.append(f"${constraints[field]} {text}")
    if constraints.get("allowNative") is False:
        parts.append("no SOL")
    if constraints.get("allowedTokens") is not None:
        parts.append(f"{len(constraints['allowedTokens'])} token(s) only")
    if constraints.get("allowedNetworks") is not None:
        parts.append("on " + ", ".join(constraints["allowedNetworks"]))
    if constraints.get("allowedRecipients") is not None:
        parts.append(f"{len(constraints['allowedRecipients'])} recipient(s) only")
    return "; ".join(parts) or "-"


@functools.cache
def templates() -> Any:
    """The console's templates, loaded at the first page (jinja2 is not needed before)."""
    import jinja2
    from starlette.templating import Jinja2Templates

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # The templates ship with the daemon: no stat() of the file at each include (a
        # row template is included once per row).
        auto_reload=False,
    )
    env.filters["sol"] = _sol
    env.filters["native"] = _native
    env.filters["when"] = _when
    env.filters["asset_amount"] = _asset_amount
    env.filters["left"] = _left
    env.filters["units"] = _units
    env.filters["usd"] = _usd
    env.filters["dollars"] = _dollars
    env.filters["value_now"] = _value_now
    env.filters["duration"] = format_duration
    env.filters["limits"] = _limits
    return Jinja2Templates(env=env)


class ConsoleGuard:
    """Pure ASGI: hands routes the session store and adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, sessions: ConsoleSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["console_sessions"] = self.sessions

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_secured)


def store(request: Request) -> ConsoleSessions:
    return request.state.console_sessions


def current(request: Request, *, restart: bool = True) -> ConsoleSession | None:
    return store(request).touch(request.cookies.get(COOKIE), restart=restart)


def own_origin(request: Request) -> str:
    # The Host guard has already refused any name that is not ours.
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def came_from_console(request: Request) -> bool:
    return from_console(
        own_origin=own_origin(request),
        origin=request.headers.get("origin"),
        referer=request.headers.get("referer"),
        fetch_site=request.headers.get("sec-fetch-site"),
    )


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form, first value of each field (the console posts nothing else)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    session: ConsoleSession | None = getattr(request.state, "console", None)
    full = {
        "signed_in": session is not None,
        "csrf_token": session.csrf_token if session else "",
        **(context or {}),
    }
    return templates().TemplateResponse(request, name, full, status_code=status)


def error_page(request: Request, error: WaiaasError) -> Response:
    if "text/html" not in request.headers.get("accept", ""):
        return JSONResponse(error.to_body(), status_code=error.status)
    return render(request, "error.html", {"error": error}, status=error.status)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


def page(endpoint: Endpoint) -> Endpoint:
    """A GET page for a signed-in owner; anyone else is sent to the sign-in page."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        request.state.console = current(request)
        if request.state.console is None:
            return redirect("/signin")
        try:
            return await endpoint(request)
        except WaiaasError as error:
            return error_page(request, error)

    return guarded


# htmx stops polling when a poll is answered 286.
STOP_POLLING = 286


def fragment(endpoint: Endpoint) -> Endpoint:
    """A piece of a page that htmx polls: it does not keep the session alive.

    Without a live session it answers a short notice (and 286, so the polling
    stops) instead of a redirect whose sign-in page htmx would paste inside the list.
    """

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        request.state.console = current(request, restart=False)
        if request.state.console is None:
            return render(request, "signed_out.html", status=STOP_POLLING)
        try:
            return await endpoint(request)
        except WaiaasError as error:
            return error_page(request, error)

    return guarded


def action(endpoint: Endpoint, *, signed_in: bool = True) -> Endpoint:
    """A POST that changes something: from the console, with the session's CSRF token.

    The checks run before the endpoint reads anything else, so a refused
    request changes nothing. ``signed_in=False`` is for the sign-in form
    itself, which has no session yet and relies on the origin check.
    """

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        try:
            if not came_from_console(request):
                raise WaiaasError("CSRF_FAILED")
            request.state.console = current(request)
            request.state.form = await form(request)
            if signed_in:
                _require_csrf(request)
            return await endpoint(request)
        except WaiaasError as error:
            return error_page(request, error)

    return guarded


def reason_body(request: Request) -> dict[str, str]:
    """The form's optional ``reason`` as the REST body ``{reason?}`` (blank: none)."""
    reason = request.state.form.get("reason", "").strip()
    return {"reason": reason} if reason else {}


def decode(model: type[T], document: dict[str, Any]) -> T:
    """A form's values as an API body model, validated exactly as the REST route does."""
    try:
        value = msgspec.convert(document, model)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    schemas.check(value)
    return value


def _require_csrf(request: Request) -> None:
    session = request.state.console
    if session is None:
        # The token cannot be checked without a session; signing in again is the fix.
        raise WaiaasError("CONSOLE_AUTH_REQUIRED")
    if not csrf_matches(session, request.state.form.get("csrf_token")):
        raise WaiaasError("CSRF_FAILED")
