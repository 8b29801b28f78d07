"""The wallet policy: the owner's GET/PUT/DELETE, and the agent's view of its own rules."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon import policy, wallets
from waiaas_daemon.api import operation, path_id
from waiaas_daemon.auth import state_of
from waiaas_daemon.schemas.policy import AgentPolicy, Policy, WalletPolicy
from waiaas_daemon.state import DaemonState
from waiaas_daemon.storage import Event, PolicyRow
from waiaas_daemon.transactions import totals_of

WALLET_ID = {"id": "Wallet id."}


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


async def put_wallet_policy(request: Request, body: Policy) -> WalletPolicy:
    """Replace a wallet's policy; every field is validated and the version goes up."""
    state, wallet_id = await _wallet(request)
    event = Event("owner", "policy_set", wallet_id, details=policy.as_dict(body))
    row = await state.db.put_policy(wallet_id, policy.dump(body), state.now(), [event])
    return _view(wallet_id, row)


async def delete_wallet_policy(request: Request) -> WalletPolicy:
    """Reset a wallet's policy to {} (the version still goes up)."""
    state, wallet_id = await _wallet(request)
    event = Event("owner", "policy_cleared", wallet_id)
    row = await state.db.put_policy(wallet_id, "{}", state.now(), [event])
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
            rules, auth.session.constraints, totals_of(inputs), token_totals
        ),
    )


def routes() -> list[Route]:
    path = "/v1/wallets/{id}/policy"
    owner = [
        operation(
            method,
            path,
            handler,
            auth="master",
            tag="policy",
            path_params=WALLET_ID,
            errors=("WALLET_NOT_FOUND",),
        )
        for method, handler in (
            ("GET", get_wallet_policy),
            ("PUT", put_wallet_policy),
            ("DELETE", delete_wallet_policy),
        )
    ]
    return [
        *owner,
        operation("GET", "/v1/wallet/policy", get_agent_policy, auth="session", tag="agent"),
    ]
