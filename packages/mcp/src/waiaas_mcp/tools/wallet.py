"""Tools about the wallet itself: its address and its balance."""

from __future__ import annotations

from decimal import Decimal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from waiaas_mcp.client import ApiClient, Ok
from waiaas_mcp.results import tool_result

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
LAMPORTS_PER_SOL = Decimal(10**9)


def register(server: MCPServer, api: ApiClient) -> None:
    @server.tool(title="Wallet address", annotations=READ_ONLY)
    async def get_address() -> CallToolResult:
        """Get the Solana address of this wallet, the one to give out to receive funds.

        Returns JSON {walletId, chain: "solana", network, address (base58)}.
        """
        return tool_result(await api.get("/v1/wallet/address"))

    @server.tool(title="Wallet balance", annotations=READ_ONLY)
    async def get_balance() -> CallToolResult:
        """Get this wallet's SOL balance.

        Returns JSON {walletId, chain, network, address, balance, balanceSol, decimals: 9,
        symbol: "SOL"}. `balance` is in lamports as a decimal string (1 SOL =
        1,000,000,000 lamports); `balanceSol` is the same amount in SOL, for reading only.
        """
        result = await api.get("/v1/wallet/balance")
        if isinstance(result, Ok) and isinstance(result.data, dict):
            result = Ok({**result.data, "balanceSol": _sol(result.data.get("balance"))})
        return tool_result(result)


def _sol(lamports: object) -> str | None:
    try:
        amount = Decimal(str(lamports)) / LAMPORTS_PER_SOL
    except ArithmeticError:
        return None
    return format(amount.normalize(), "f")
