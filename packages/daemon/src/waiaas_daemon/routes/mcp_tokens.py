"""masterAuth: provision the MCP server's token file for a wallet."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_core.claude import WalletRef, build_claude_desktop_config
from waiaas_core.paths import token_path
from waiaas_daemon import parsing, sessions
from waiaas_daemon.auth import master_auth, state_of
from waiaas_daemon.routes.sessions import expires_in


async def provision(request: Request) -> JSONResponse:
    state = state_of(request)
    body = await parsing.json_object(request)
    parsing.no_unknown_fields(body, {"walletId", "expiresIn"})
    wallet_id = parsing.wallet_id(body)
    issued = await sessions.provision_mcp_token(state, wallet_id, ttl=expires_in(state, body))
    path = token_path(state.data_dir, wallet_id)
    all_wallets = [WalletRef(w.id, w.name) for w in await state.db.list_wallets()]
    wallet = next(w for w in all_wallets if w.id == wallet_id)
    config = build_claude_desktop_config(
        [wallet], base_url=state.base_url, data_dir=state.data_dir, all_wallets=all_wallets
    )
    return JSONResponse(
        {
            "walletId": wallet_id,
            "walletName": wallet.name,
            "sessionId": issued.session.id,
            "tokenPath": str(path),
            "expiresAt": issued.session.expires_at,
            "claudeDesktopConfig": config,
        },
        status_code=201,
    )


def routes() -> list[Route]:
    return [Route("/v1/mcp/tokens", master_auth(provision), methods=["POST"])]
