"""sessionAuth: the token's own wallet (address, balance), not the owner's wallet routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain import wallets
from waiaas_daemon.schemas.transactions import NetworkQuery
from waiaas_daemon.schemas.wallets import WalletAddress, WalletBalance
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of


async def get_address(request: Request) -> WalletAddress:
    """The token's wallet address (one address on every network of its chain family)."""
    wallet = await wallets.get(state_of(request), request.state.auth.claims.wallet_id)
    return WalletAddress(
        wallet_id=wallet.id,
        chain=wallet.chain,  # type: ignore[arg-type]
        network=wallet.network,  # type: ignore[arg-type]
        address=wallet.address,
    )


async def get_balance(request: Request, query: NetworkQuery) -> WalletBalance:
    """The token's wallet native balance in base units (lamports for SOL, wei for ETH/POL),
    on its own network or ``?network=`` another of its family."""
    state = state_of(request)
    wallet = await wallets.get(state, request.state.auth.claims.wallet_id)
    network = wallets.network_for(wallet, query.network)
    chain = state.chain_for(network)
    balance = await chain.get_balance(wallet.address)
    return WalletBalance(
        wallet_id=wallet.id,
        chain=wallet.chain,  # type: ignore[arg-type]
        network=network,  # type: ignore[arg-type]
        address=wallet.address,
        balance=str(balance),
        decimals=chain.native_decimals,
        symbol=chain.native_symbol,
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
            errors=("CHAIN_ERROR", "INVALID_REQUEST"),
        ),
    ]
