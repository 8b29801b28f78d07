"""The MCP resources: the wallet's balance, assets and address, and the system status.

A resource read cannot carry ``isError``, so every outcome is JSON text of the shapes
of ``waiaas_mcp.results``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

from waiaas_mcp import __version__
from waiaas_mcp.client import ApiClient, Ok
from waiaas_mcp.config import Settings
from waiaas_mcp.results import payload, to_json
from waiaas_mcp.session import SessionManager, SessionState
from waiaas_mcp.tools.session import owner_controls
from waiaas_mcp.tools.wallet import with_ui_amounts

JSON = "application/json"


def register_resources(
    server: MCPServer, api: ApiClient, manager: SessionManager, settings: Settings
) -> None:
    @server.resource(
        "waiaas://wallet/balance",
        name="wallet-balance",
        title="Wallet balance",
        description="The wallet's balance; `balance` is in lamports (1 SOL = 10^9 lamports).",
        mime_type=JSON,
    )
    async def wallet_balance() -> str:
        return to_json(payload(await api.get("/v1/wallet/balance")))

    @server.resource(
        "waiaas://wallet/assets",
        name="wallet-assets",
        title="Wallet assets",
        description=(
            "SOL and every SPL token the wallet holds; `amount` is in base units, "
            "10^decimals per token (lamports for SOL)."
        ),
        mime_type=JSON,
    )
    async def wallet_assets() -> str:
        result = await api.get("/v1/wallet/assets")
        if isinstance(result, Ok):
            result = Ok(with_ui_amounts(result.data))
        return to_json(payload(result))

    @server.resource(
        "waiaas://wallet/address",
        name="wallet-address",
        title="Wallet address",
        description="The wallet's Solana address (base58), chain and network.",
        mime_type=JSON,
    )
    async def wallet_address() -> str:
        return to_json(payload(await api.get("/v1/wallet/address")))

    @server.resource(
        "waiaas://system/status",
        name="system-status",
        title="System status",
        description=(
            "Whether the wallet daemon is reachable, this server's session state, the "
            "wallet's status, and `killSwitch` while the owner's kill switch refuses sends."
        ),
        mime_type=JSON,
    )
    async def system_status() -> str:
        await manager.wait_started()
        health = await api.public_get("/health")
        controls: dict[str, Any] = {}
        if isinstance(health, Ok) and manager.state is SessionState.ACTIVE:
            own = await api.get("/v1/session")
            controls = owner_controls(own.data) if isinstance(own, Ok) else {}
        info = manager.info()
        wallet = controls.get("wallet", {})
        healthy = (
            isinstance(health, Ok)
            and info["state"] == "active"
            and "killSwitch" not in controls
            and wallet.get("status", "ACTIVE") == "ACTIVE"
        )
        status: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "server": {"name": "waiaas-mcp", "version": __version__},
            "daemon": {"baseUrl": settings.base_url, "reachable": isinstance(health, Ok)}
            | payload(health),
            "wallet": {"id": settings.wallet_id, "name": settings.wallet_name} | wallet,
            "session": info,
        }
        if "killSwitch" in controls:
            status["killSwitch"] = controls["killSwitch"]
        return to_json(status)
