"""masterAuth: create, list, get and terminate wallets; airdrops to them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain import transactions, wallets
from waiaas_daemon.schemas.transactions import Transaction
from waiaas_daemon.schemas.wallets import (
    AirdropRequest,
    Wallet,
    WalletCreate,
    WalletList,
    WalletRename,
)
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.routes.transactions import transaction_model
from waiaas_daemon.storage import WalletRow

WALLET_ID = {"id": "Wallet id."}


def wallet_model(wallet: WalletRow) -> Wallet:
    suspended = wallet.status == "SUSPENDED"
    return Wallet(
        id=wallet.id,
        name=wallet.name,
        chain=wallet.chain,  # type: ignore[arg-type]
        network=wallet.network,  # type: ignore[arg-type]
        address=wallet.address,
        status=wallet.status,  # type: ignore[arg-type]
        created_at=wallet.created_at,
        suspended_reason=wallet.status_reason if suspended else None,
        suspended_at=wallet.status_changed_at if suspended else None,
    )


async def create_wallet(request: Request, body: WalletCreate) -> Wallet:
    """Create a wallet with a new key: Solana (the default) or EVM (``chain``)."""
    state = state_of(request)
    wallet = await wallets.create(state, body.name.strip(), body.network, body.chain)
    return wallet_model(wallet)


async def list_wallets(request: Request) -> WalletList:
    """All wallets."""
    return WalletList(items=[wallet_model(w) for w in await state_of(request).db.list_wallets()])


async def get_wallet(request: Request) -> Wallet:
    """One wallet."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    return wallet_model(await wallets.get(state_of(request), wallet_id))


async def rename_wallet(request: Request, body: WalletRename) -> Wallet:
    """Rename a wallet (unique among wallets that are not terminated)."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    return wallet_model(await wallets.rename(state_of(request), wallet_id, body.name.strip()))


async def terminate_wallet(request: Request) -> Wallet:
    """Terminate a wallet and revoke its sessions."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    return wallet_model(await wallets.terminate(state_of(request), wallet_id))


async def airdrop_to_wallet(request: Request, body: AirdropRequest) -> Transaction:
    """Request an airdrop to a wallet (local and devnet; a token on local only)."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    tx = await transactions.airdrop(state_of(request), wallet_id, int(body.amount), body.token)
    return transaction_model(tx)


def routes() -> list[Route]:
    unknown = ("WALLET_NOT_FOUND",)
    return [
        operation(
            "POST",
            "/v1/wallets",
            create_wallet,
            auth="master",
            tag="wallets",
            status=201,
            errors=("WALLET_NAME_TAKEN",),
        ),
        operation("GET", "/v1/wallets", list_wallets, auth="master", tag="wallets"),
        operation(
            "GET",
            "/v1/wallets/{id}",
            get_wallet,
            auth="master",
            tag="wallets",
            path_params=WALLET_ID,
            errors=unknown,
        ),
        operation(
            "PATCH",
            "/v1/wallets/{id}",
            rename_wallet,
            auth="master",
            tag="wallets",
            path_params=WALLET_ID,
            errors=(*unknown, "WALLET_TERMINATED", "WALLET_NAME_TAKEN"),
        ),
        operation(
            "DELETE",
            "/v1/wallets/{id}",
            terminate_wallet,
            auth="master",
            tag="wallets",
            path_params=WALLET_ID,
            errors=unknown,
        ),
        operation(
            "POST",
            "/v1/wallets/{id}/airdrop",
            airdrop_to_wallet,
            auth="master",
            tag="wallets",
            status=201,
            path_params=WALLET_ID,
            errors=(
                *unknown,
                "WALLET_TERMINATED",
                "TOKEN_NOT_FOUND",
                "RATE_LIMITED",
                "CHAIN_ERROR",
            ),
        ),
    ]
