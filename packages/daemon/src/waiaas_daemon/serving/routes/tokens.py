"""The token registry (public read, masterAuth add) and the token's wallet's assets."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import wallets
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.schemas.tokens import (
    Asset,
    Assets,
    TokenCreate,
    TokenEntry,
    TokenList,
    TokenListQuery,
)
from waiaas_daemon.schemas.transactions import NetworkQuery
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.storage import TokenRow, WalletRow


def token_entry(row: TokenRow) -> TokenEntry:
    return TokenEntry(
        network=row.network,  # type: ignore[arg-type]
        mint=row.mint,
        symbol=row.symbol,
        decimals=row.decimals,
        token_program=row.program,
        builtin=row.builtin,
    )


async def list_tokens(request: Request, query: TokenListQuery) -> TokenList:
    """The token registry of one network (the daemon's own by default)."""
    state = state_of(request)
    network = query.network or state.settings.network
    rows = await state.db.list_tokens(network)
    return TokenList(network=network, items=[token_entry(r) for r in rows])  # type: ignore[arg-type]


async def add_token(request: Request, body: TokenCreate) -> TokenEntry:
    """Add a token to a network's registry (decimals from the mint when the chain answers)."""
    state = state_of(request)
    if body.symbol.upper() == "SOL":
        raise WaiaasError("INVALID_REQUEST", "symbol: SOL is the native asset, not a token")
    decimals, program = body.decimals, None
    try:
        info = await state.chain_for(body.network).mint_info(body.mint)
    except WaiaasError as exc:
        # No mint there is an answer; an unreachable chain is not: then the
        # owner's decimals are taken as given, and without them we cannot know.
        if exc.code != "CHAIN_ERROR":
            raise
        if body.decimals is None:
            raise WaiaasError(
                "INVALID_REQUEST",
                f"decimals: the {body.network} chain did not answer ({exc.message}); "
                "give the mint's decimals",
            ) from None
    else:
        if body.decimals is not None and body.decimals != info.decimals:
            raise WaiaasError(
                "INVALID_REQUEST", f"decimals: the mint has {info.decimals}, not {body.decimals}"
            )
        decimals, program = info.decimals, info.program
    assert decimals is not None
    row = TokenRow(
        network=body.network,
        mint=body.mint,
        symbol=body.symbol,
        decimals=decimals,
        program=program,
        builtin=False,
        created_at=state.now(),
    )
    if not await state.db.insert_token(row):
        raise WaiaasError(
            "INVALID_REQUEST",
            f"symbol: {body.network} already has a token {body.symbol!r} or the mint {body.mint}",
        )
    return token_entry(row)


async def get_assets(request: Request, query: NetworkQuery) -> Assets:
    """The native coin and the tokens of the token's wallet, amounts in base units, on its
    own network or ``?network=`` another of its family (EVM: the registry's tokens)."""
    state = state_of(request)
    wallet = await wallets.get(state, request.state.auth.claims.wallet_id)
    return await assets_of(state, wallet, wallets.network_for(wallet, query.network))


async def get_wallet_assets(request: Request) -> Assets:
    """The native coin and the tokens of a wallet, amounts in base units (the owner's view)."""
    state = state_of(request)
    wallet = await wallets.get(state, path_id(request, "id", "WALLET_NOT_FOUND"))
    return await assets_of(state, wallet, wallet.network)


async def assets_of(state: DaemonState, wallet: WalletRow, network: str) -> Assets:
    chain = state.chain_for(network)
    native = await chain.get_balance(wallet.address)
    registry = await state.db.list_tokens(network)
    held = await chain.token_accounts(wallet.address, tuple(r.mint for r in registry))
    symbols = {r.mint: r.symbol for r in registry}
    items = [
        Asset(
            symbol=chain.native_symbol,
            mint=None,
            amount=str(native),
            decimals=chain.native_decimals,
        )
    ]
    items += [
        Asset(
            symbol=symbols.get(b.mint),
            mint=b.mint,
            amount=str(b.amount),
            decimals=b.decimals,
            token_program=b.program,
        )
        for b in held
    ]
    return Assets(wallet_id=wallet.id, network=network, items=items)  # type: ignore[arg-type]


def routes() -> list[Route]:
    return [
        operation(
            "GET",
            "/v1/wallet/assets",
            get_assets,
            auth="session",
            tag="agent",
            errors=("CHAIN_ERROR", "INVALID_REQUEST"),
        ),
        operation(
            "GET",
            "/v1/wallets/{id}/assets",
            get_wallet_assets,
            auth="master",
            tag="wallets",
            path_params={"id": "Wallet id."},
            errors=("WALLET_NOT_FOUND", "CHAIN_ERROR"),
        ),
        operation("GET", "/v1/tokens", list_tokens, auth="public", tag="tokens"),
        operation(
            "POST",
            "/v1/tokens",
            add_token,
            auth="master",
            tag="tokens",
            status=201,
            errors=("TOKEN_NOT_FOUND", "INVALID_ADDRESS"),
        ),
    ]
