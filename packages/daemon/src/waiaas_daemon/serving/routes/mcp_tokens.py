"""masterAuth: provision the MCP server's token file for a wallet."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.claude import WalletRef, build_claude_desktop_config
from waiaas_core.paths import token_path
from waiaas_daemon.domain import sessions
from waiaas_daemon.schemas.sessions import McpToken, McpTokenCreate
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.serving.routes.sessions import constraints_dict, ttl_of


async def provision_mcp_token(request: Request, body: McpTokenCreate) -> McpToken:
    """Issue an MCP session and write its token file."""
    state = state_of(request)
    issued = await sessions.provision_mcp(
        state,
        body.wallet_id,
        ttl=ttl_of(state, body.expires_in),
        constraints=constraints_dict(body.constraints),
    )
    path = token_path(state.data_dir, body.wallet_id)
    all_wallets = [WalletRef(w.id, w.name) for w in await state.db.list_wallets()]
    wallet = next(w for w in all_wallets if w.id == body.wallet_id)
    config = build_claude_desktop_config(
        [wallet], base_url=state.base_url, data_dir=state.data_dir, all_wallets=all_wallets
    )
    return McpToken(
        wallet_id=body.wallet_id,
        wallet_name=wallet.name,
        session_id=issued.session.id,
        token_path=str(path),
        expires_at=issued.session.expires_at,
        claude_desktop_config=config,
    )


def routes() -> list[Route]:
    return [
        operation(
            "POST",
            "/v1/mcp/tokens",
            provision_mcp_token,
            auth="master",
            tag="sessions",
            status=201,
            errors=(
                "WALLET_NOT_FOUND",
                "WALLET_TERMINATED",
                "SESSION_LIMIT_EXCEEDED",
                "KILL_SWITCH_ACTIVE",
            ),
        )
    ]
