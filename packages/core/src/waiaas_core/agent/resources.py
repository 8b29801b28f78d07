"""The MCP resources: the wallet's balance, assets and address, and the system status.

A resource read cannot carry ``isError``, so every outcome is JSON text of the shapes
of ``waiaas_core.agent.results``; the status comes from the ``SessionSource``.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from waiaas_core.agent.api import Api, Ok, SessionSource
from waiaas_core.agent.results import payload, to_json
from waiaas_core.agent.tools.wallet import with_ui_amounts

JSON = "application/json"


def register_resources(server: MCPServer, api: Api, source: SessionSource) -> None:
    @server.resource(
        "waiaas://wallet/balance",
        name="wallet-balance",
        title="Wallet balance",
        description=(
            "The wallet's native balance; `balance` is in base units: lamports for SOL "
            "(1 SOL = 10^9), wei for ETH or POL (1 ETH = 10^18)."
        ),
        mime_type=JSON,
    )
    async def wallet_balance() -> str:
        return to_json(payload(await api.get("/v1/wallet/balance")))

    @server.resource(
        "waiaas://wallet/assets",
        name="wallet-assets",
        title="Wallet assets",
        description=(
            "The native coin and every token the wallet holds (SPL on Solana, ERC-20 on "
            "EVM); `amount` is in base units, 10^decimals per token (lamports for SOL, "
            "wei for ETH)."
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
        return to_json(await source.system_status())
