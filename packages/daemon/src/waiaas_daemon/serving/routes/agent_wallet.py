"""sessionAuth: the token's own wallet (address, balance), not the owner's wallet routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain import wallets
from waiaas_daemon.schemas.wallets import WalletAddress, WalletBalance
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of

SOL_DECIMALS = 9


async def get_address(request: Request) -> WalletAddress:
    """The token's wallet address."""
    wallet = await wallets.get(state_of(request), request.state.auth.claims.wallet_id)
    return WalletAddress(
        wallet_id=wallet.id,
        chain="solana",
        network=wallet.network,  # type: ignore[arg-type]
        address=wallet.address,
    )


async def get_balance(request: Request) -> WalletBalance:
    """The token's wallet SOL balance, in lamports."""
    state = state_of(request)
    wallet = await wallets.get(state, request.state.auth.claims.wallet_id)
    lamports = await state.chain_for(wallet.network).get_balance(wallet.address)
    return WalletBalance(
        wallet_id=wallet.id,
        chain="solana",
        network=wallet.network,  # type: ignore[arg-type]
        address=wallet.address,
        balance=str(lamports),
        decimals=SOL_DECIMALS,
        symbol="SOL",
    )


def routes() -> list[Route]:
    return [
        operation("GET", "/v1/wallet/address", get_address, auth="session", tag="agent"),
        operation(
            "GET",
            "/v1/wallet/balance",
            get_balance,
            auth="session",
            tag="agent",
            errors=("CHAIN_ERROR",),
        ),
    ]
