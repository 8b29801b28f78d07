"""masterAuth: create, list, get and terminate wallets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_core.config import NETWORKS
from waiaas_daemon import parsing, transactions, wallets
from waiaas_daemon.auth import master_auth, state_of


async def create_wallet(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await parsing.json_object(request)
    parsing.no_unknown_fields(body, {"name", "network"})
    name = parsing.string(body, "name", max_length=100)
    network = parsing.string(body, "network", required=False) or state.settings.network
    if network not in NETWORKS:
        raise parsing.invalid("network", f"must be one of {', '.join(NETWORKS)}")
    wallet = await wallets.create_wallet(state, name.strip(), network)
    return JSONResponse(wallets.wallet_view(wallet), status_code=201)


async def list_wallets(request: Request) -> JSONResponse:
    rows = await state_of(request).db.list_wallets()
    return JSONResponse({"items": [wallets.wallet_view(w) for w in rows]})


async def get_wallet(request: Request) -> JSONResponse:
    wallet_id = parsing.path_uuid(request, "id", "WALLET_NOT_FOUND")
    wallet = await wallets.get_wallet(state_of(request), wallet_id)
    return JSONResponse(wallets.wallet_view(wallet))


async def terminate_wallet(request: Request) -> JSONResponse:
    wallet_id = parsing.path_uuid(request, "id", "WALLET_NOT_FOUND")
    wallet = await wallets.terminate_wallet(state_of(request), wallet_id)
    return JSONResponse(wallets.wallet_view(wallet))


async def airdrop(request: Request) -> JSONResponse:
    wallet_id = parsing.path_uuid(request, "id", "WALLET_NOT_FOUND")
    body = await parsing.json_object(request)
    parsing.no_unknown_fields(body, {"amount"})
    if "amount" not in body:
        raise parsing.invalid("amount", "is required")
    amount = parsing.lamports(body["amount"], "amount")
    tx = await transactions.airdrop(state_of(request), wallet_id, amount)
    return JSONResponse(transactions.transaction_view(tx), status_code=201)


def routes() -> list[Route]:
    return [
        Route("/v1/wallets", master_auth(create_wallet), methods=["POST"]),
        Route("/v1/wallets", master_auth(list_wallets), methods=["GET"]),
        Route("/v1/wallets/{id}", master_auth(get_wallet), methods=["GET"]),
        Route("/v1/wallets/{id}", master_auth(terminate_wallet), methods=["DELETE"]),
        Route("/v1/wallets/{id}/airdrop", master_auth(airdrop), methods=["POST"]),
    ]
