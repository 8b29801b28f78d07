"""The owner's answer to an OAuth client that asks for a wallet (docs/notes/oauth.md).

``/oauth/authorize`` keeps the request and sends the browser here. A signed-in
owner sees who asks (name, where the answer goes, what it wants) and chooses
the wallet, read-only or spending, the lifetime and the session's limits; Allow
makes a session and sends the client its code, Deny sends it ``access_denied``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from waiaas_core.amounts import to_base_units
from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import oauth
from waiaas_daemon.schemas.sessions import Constraints
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console.policyform import SOL_DECIMALS
from waiaas_daemon.serving.console.web import (
    action,
    current,
    decode,
    error_page,
    redirect,
    render,
)
from waiaas_daemon.serving.routes.sessions import constraints_dict

#: Lifetimes offered (seconds, label); the settings' bounds keep some of them out.
LIFETIMES = ((3600, "1 hour"), (86400, "1 day"), (604800, "7 days"))
SCOPE_TEXT = {
    oauth.READ: "see the wallet: address, balances, transactions, its rules",
    oauth.SPEND: "send tokens and pay for resources, within the wallet policy and the limits below",
}


def _request_id(request: Request) -> str:
    raw = request.path_params["request_id"]
    if not (0 < len(raw) <= 100 and raw.replace("-", "").replace("_", "").isalnum()):
        raise WaiaasError("NOT_FOUND", "This authorization request is unknown or has expired.")
    return str(raw)


async def _page(
    request: Request, raw: str, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    state = state_of(request)
    found = await oauth.pending(state, raw)
    settings = state.settings
    wallets = [w for w in await state.db.list_wallets() if w.status != "TERMINATED"]
    lifetimes = [
        (seconds, label)
        for seconds, label in LIFETIMES
        if settings.min_session_ttl <= seconds <= settings.max_session_ttl
    ] or [(settings.session_ttl, f"{settings.session_ttl} seconds")]
    form = getattr(request.state, "form", {}) if errors else {}
    return render(
        request,
        "consent.html",
        {
            "request_id": raw,
            "client": found.client,
            "name": found.name,
            "document": found.client.kind == "document",
            "redirect_host": oauth.redirect_host(found.request.redirect_uri),
            "resource": found.request.resource,
            "scopes": [(s, SCOPE_TEXT[s]) for s in found.scopes],
            "can_spend": oauth.SPEND in found.scopes,
            "wallets": wallets,
            "lifetimes": lifetimes,
            "default_lifetime": 86400 if any(s == 86400 for s, _ in lifetimes) else lifetimes[0][0],
            "form": form,
            "errors": errors or {},
        },
        status=status,
    )


async def consent_page(request: Request) -> Response:
    request.state.console = current(request)
    try:
        raw = _request_id(request)
        if request.state.console is None:
            # Back here after signing in: a path of ours, never a URL (no open redirect).
            return redirect(f"/signin?next=/console/oauth/{raw}")
        return await _page(request, raw)
    except WaiaasError as error:
        return error_page(request, error)


def _constraints(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    document: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in ("maxAmountPerTx", "maxAmountPerDay"):
        text = form.get(name, "").strip()
        if text:
            try:
                document[name] = str(to_base_units(text, SOL_DECIMALS, allow_zero=True))
            except ValueError as error:
                errors[name] = str(error)
    for name in ("maxUsdPerTx", "maxUsdPerDay", "maxUsdTotal"):
        # Dollars as typed ("25", "12.50"); the Constraints model checks the form.
        text = form.get(name, "").strip().removeprefix("$").strip()
        if text:
            document[name] = text
    recipients = form.get("allowedRecipients", "").split()
    if recipients:
        document["allowedRecipients"] = recipients
    return document, errors


async def answer(request: Request) -> Response:
    state = state_of(request)
    raw = _request_id(request)
    form = request.state.form
    if form.get("decision") == "deny":
        return RedirectResponse(await oauth.deny(state, raw), status_code=303)
    if form.get("decision") != "allow":
        raise WaiaasError("INVALID_REQUEST", "decision: allow or deny")
    document, errors = _constraints(form)
    lifetime = form.get("lifetime", "")
    if not lifetime.isdigit() or len(lifetime) > 9:
        errors["lifetime"] = "Choose a lifetime."
    wallet_id = form.get("walletId", "")
    if not wallet_id:
        errors["walletId"] = "Choose a wallet."
    if errors:
        return await _page(request, raw, errors, status=400)
    constraints = decode(Constraints, document) if document else None
    ttl = int(lifetime)
    settings = state.settings
    if not settings.min_session_ttl <= ttl <= settings.max_session_ttl:
        raise WaiaasError("INVALID_REQUEST", "lifetime: outside the daemon's session limits")
    location = await oauth.allow(
        state,
        raw,
        wallet_id=wallet_id,
        ttl=ttl,
        constraints=constraints_dict(constraints),
        spend=form.get("access") == "spend",
    )
    return RedirectResponse(location, status_code=303)


def routes() -> list[Route]:
    return [
        Route("/oauth/{request_id}", consent_page, methods=["GET"]),
        Route("/oauth/{request_id}", action(answer), methods=["POST"]),
    ]
