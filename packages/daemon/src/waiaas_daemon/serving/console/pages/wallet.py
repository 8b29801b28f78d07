"""One wallet: address, balance, suspend/resume, policy form, sessions with Revoke, transactions."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import policy, sessions, wallets
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.policy import Decision, Policy
from waiaas_daemon.serving.api import path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.console import policyform
from waiaas_daemon.serving.console.reads import assets as wallet_assets
from waiaas_daemon.serving.console.reads import worths
from waiaas_daemon.serving.console.web import action, decode, page, reason_body, redirect, render
from waiaas_daemon.serving.routes import controls as control_routes
from waiaas_daemon.serving.routes import policy as policy_routes
from waiaas_daemon.storage import oauth as oauth_store

TRANSACTIONS_SHOWN = 50


async def _current_policy(request: Request) -> tuple[int, dict[str, Any]]:
    view = await policy_routes.get_wallet_policy(request)
    return view.version, policy.as_dict(view.policy)


async def _wallet_page(
    request: Request,
    fields: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: WaiaasError | None = None,
) -> Response:
    state = state_of(request)
    wallet = await wallets.get(state, path_id(request, "id", "WALLET_NOT_FOUND"))
    rows = await state.db.list_sessions(wallet.id)
    version, document = await _current_policy(request)
    assets = await _assets(state, wallet.network, document)
    # One read of the chain: the native coin first, then each token account.
    held = await wallet_assets(state, wallet) if wallet.status != "TERMINATED" else []
    worth = (await worths(state, [wallet], {wallet.id: held})).get(wallet.id) if held else None
    return render(
        request,
        "wallet.html",
        {
            "wallet": wallet,
            "balance": held[0].raw if held else None,
            "holdings": None if held is None else held[1:],
            "worth": worth,
            "sessions": [(s, sessions.status_of(state, s)) for s in rows],
            # OAuth grants among them: the client's scope beside the label.
            "grants": await oauth_store.grants(state.db),
            "transactions": await state.db.list_transactions(wallet.id, TRANSACTIONS_SHOWN, None),
            "policy_version": version,
            "fields": fields or policyform.fields_of(document, assets),
            "assets": assets,
            "field_errors": errors or {},
            "policy_error": error,
            "saved": request.query_params.get("saved") == "policy",
        },
        status=error.status if error else (400 if errors else 200),
    )


async def _assets(
    state: DaemonState, network: str, document: dict[str, Any]
) -> list[policyform.Asset]:
    """The tokens the policy form has fields for: the network's registry and the policy's own."""
    registry = [
        policyform.Asset(t.mint, t.symbol, t.decimals) for t in await state.db.list_tokens(network)
    ]
    return policyform.assets_for(document, registry)


async def wallet_page(request: Request) -> Response:
    return await _wallet_page(request)


def _form_version(form: dict[str, str]) -> int | None:
    """The policy version the form was rendered with; the save applies only over it."""
    text = form.get("version", "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        raise WaiaasError("INVALID_REQUEST", "version: must be a whole number")
    return int(text)


async def set_policy(request: Request) -> Response:
    form = request.state.form
    expected = _form_version(form)
    _, current = await _current_policy(request)
    wallet = await wallets.get(state_of(request), path_id(request, "id", "WALLET_NOT_FOUND"))
    assets = await _assets(state_of(request), wallet.network, current)
    names = policyform.field_names(assets)
    document, errors = policyform.document_of(form, current, assets)
    shown = policyform.fields_of(current, assets)
    typed = {name: form.get(name, shown[name]) for name in names}
    if errors:
        return await _wallet_page(request, typed, errors)
    try:
        body = decode(Policy, document)
        await policy_routes.replace_policy(request, body, expected)
    except WaiaasError as error:
        if error.code == "POLICY_VERSION_CONFLICT":
            # The form shows the policy as it is now: the owner sees the other change
            # and makes theirs again over it, as the CLI asks for a re-run.
            return await _wallet_page(request, None, None, error)
        if error.code != "INVALID_REQUEST":
            raise
        field = policyform.field_of(error.message, names)
        return await _wallet_page(
            request, typed, {field: error.message} if field else {}, None if field else error
        )
    return redirect(f"/wallets/{path_id(request, 'id', 'WALLET_NOT_FOUND')}?saved=policy")


async def suspend(request: Request) -> Response:
    await control_routes.suspend_wallet(request, decode(Decision, reason_body(request)))
    return redirect(f"/wallets/{path_id(request, 'id', 'WALLET_NOT_FOUND')}")


async def resume(request: Request) -> Response:
    await control_routes.resume_wallet(request)
    return redirect(f"/wallets/{path_id(request, 'id', 'WALLET_NOT_FOUND')}")


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
        Route("/wallets/{id}/policy", action(set_policy), methods=["POST"]),
        Route("/wallets/{id}/suspend", action(suspend), methods=["POST"]),
        Route("/wallets/{id}/resume", action(resume), methods=["POST"]),
        Route(
            "/wallets/{id}/sessions/{session_id}/revoke",
            action(revoke_session),
            methods=["POST"],
        ),
    ]
