"""The wallet policy: the owner's GET/PUT/DELETE, and the agent's view of its own rules."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import policy, wallets
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.domain.transactions import totals_of
from waiaas_daemon.schemas.policy import AgentPolicy, Policy, WalletPolicy
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.storage import Event, PolicyRow, VersionConflict

WALLET_ID = {"id": "Wallet id."}
_IF_MATCH = re.compile(r'"([0-9]{1,20})"|\*')
IF_MATCH = {
    "If-Match": (
        r'^("[0-9]{1,20}"|\*)$',
        'The policy version this change was made from, in double quotes ("3"); a stored '
        "version that differs answers 409 POLICY_VERSION_CONFLICT and writes nothing. "
        "Without it (or with *), the write applies whatever the stored version.",
    )
}


def _view(wallet_id: str, row: PolicyRow | None) -> WalletPolicy:
    if row is None:
        return WalletPolicy(wallet_id=wallet_id, version=0, updated_at=None, policy=Policy())
    return WalletPolicy(
        wallet_id=wallet_id,
        version=row.version,
        updated_at=row.updated_at,
        policy=policy.load(row.document),
    )


async def _wallet(request: Request) -> tuple[DaemonState, str]:
    state = state_of(request)
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    await wallets.get(state, wallet_id)
    return state, wallet_id


async def get_wallet_policy(request: Request) -> WalletPolicy:
    """A wallet's policy (version 0 and {} when none was set)."""
    state, wallet_id = await _wallet(request)
    return _view(wallet_id, await state.db.get_policy(wallet_id))


def if_match_version(request: Request) -> int | None:
    """The version an ``If-Match: "<version>"`` header names; None without one or with ``*``."""
    values = request.headers.getlist("if-match")
    if not values:
        return None
    match = _IF_MATCH.fullmatch(values[0].strip()) if len(values) == 1 else None
    if match is None:
        raise WaiaasError(
            "INVALID_REQUEST",
            'If-Match: must be the policy version in double quotes, like "3", or *',
        )
    return None if match[1] is None else int(match[1])


async def put_wallet_policy(request: Request, body: Policy) -> WalletPolicy:
    """Replace a wallet's policy; every field is validated and the version goes up.

    With ``If-Match: "<version>"``, only if that is still the stored version.
    """
    return await replace_policy(request, body, if_match_version(request))


async def replace_policy(request: Request, body: Policy, expected: int | None) -> WalletPolicy:
    """PUT's work, for the console too (its form carries the version it showed)."""
    state, wallet_id = await _wallet(request)
    event = Event("owner", "policy_set", wallet_id, details=policy.as_dict(body))
    return await _write(state, wallet_id, policy.dump(body), event, expected)


async def delete_wallet_policy(request: Request) -> WalletPolicy:
    """Reset a wallet's policy to {} (the version still goes up).

    With ``If-Match: "<version>"``, only if that is still the stored version.
    """
    expected = if_match_version(request)
    state, wallet_id = await _wallet(request)
    return await _write(
        state, wallet_id, "{}", Event("owner", "policy_cleared", wallet_id), expected
    )


async def _write(
    state: DaemonState, wallet_id: str, document: str, event: Event, expected: int | None
) -> WalletPolicy:
    try:
        row = await state.db.put_policy(
            wallet_id, document, state.now(), [event], expected_version=expected
        )
    except VersionConflict as conflict:
        raise WaiaasError(
            "POLICY_VERSION_CONFLICT",
            f"The policy is at version {conflict.current}, not {expected}: it was changed "
            "since it was read, and nothing was written.",
            hint="Read the policy again and apply the change to the new version.",
        ) from None
    return _view(wallet_id, row)


async def get_agent_policy(request: Request) -> AgentPolicy:
    """The token's wallet policy, its session's constraints and what the limits leave."""
    state = state_of(request)
    auth = request.state.auth
    inputs = await state.db.send_inputs(auth.claims.wallet_id, auth.session.id, state.now())
    rules = policy.load(inputs.policy)
    token_totals = {
        mint: policy.Totals(daily=day, monthly=month)
        for mint, (day, month) in (
            await state.db.token_totals(auth.claims.wallet_id, state.now())
        ).items()
    }
    return AgentPolicy(
        policy=rules,
        version=inputs.policy_version,
        constraints=auth.session.constraints,
        remaining=policy.remaining(
            rules,
            auth.session.constraints,
            totals_of(inputs),
            token_totals,
            usd=policy.Usd(
                None,
                daily=inputs.usd_daily,
                monthly=inputs.usd_monthly,
                session_daily=inputs.session_usd_daily,
                session_total=inputs.session_usd_total,
            ),
        ),
    )


def routes() -> list[Route]:
    path = "/v1/wallets/{id}/policy"
    owner = [
        operation(
            "GET",
            path,
            get_wallet_policy,
            auth="master",
            tag="policy",
            path_params=WALLET_ID,
            errors=("WALLET_NOT_FOUND",),
        ),
        *(
            operation(
                method,
                path,
                handler,
                auth="master",
                tag="policy",
                path_params=WALLET_ID,
                errors=("WALLET_NOT_FOUND", "POLICY_VERSION_CONFLICT"),
                header_params=IF_MATCH,
            )
            for method, handler in (("PUT", put_wallet_policy), ("DELETE", delete_wallet_policy))
        ),
    ]
    return [
        *owner,
        operation("GET", "/v1/wallet/policy", get_agent_policy, auth="session", tag="agent"),
    ]
