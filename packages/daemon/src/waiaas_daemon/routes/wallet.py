"""sessionAuth: the token's own wallet (address, balance)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_daemon import wallets
from waiaas_daemon.auth import session_auth, state_of


async def address(request: Request) -> JSONResponse:
    wallet = await wallets.get_wallet(state_of(request), request.state.auth.claims.wallet_id)
    return JSONResponse(
        {
            "walletId": wallet.id,
            "chain": wallet.chain,
            "network": wallet.network,
            "address": wallet.address,
        }
    )


async def balance(request: Request) -> JSONResponse:
    state = state_of(request)
    wallet = await wallets.get_wallet(state, request.state.auth.claims.wallet_id)
    lamports = await state.chain_for(wallet.network).get_balance(wallet.address)
    return JSONResponse(
        {
            "walletId": wallet.id,
            "chain": wallet.chain,
            "network": wallet.network,
            "address": wallet.address,
            "balance": str(lamports),
            "decimals": 9,
            "symbol": "SOL",
        }
    )


def routes() -> list[Route]:
    return [
        Route("/v1/wallet/address", session_auth(address), methods=["GET"]),
        Route("/v1/wallet/balance", session_auth(balance), methods=["GET"]),
    ]
