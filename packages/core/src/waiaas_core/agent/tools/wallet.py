"""Tools about the wallet itself: its address, its balances and the owner's policy."""

from __future__ import annotations

from decimal import Decimal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from waiaas_core.agent.api import Api, Ok
from waiaas_core.agent.results import tool_result
from waiaas_core.agent.tools.transactions import Network

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
LAMPORTS_PER_SOL = Decimal(10**9)


def _network(network: str | None) -> dict[str, str] | None:
    return {"network": network} if network else None


def register(server: MCPServer, api: Api) -> None:
    @server.tool(title="Wallet address", annotations=READ_ONLY)
    async def get_address() -> CallToolResult:
        """Get this wallet's address, the one to give out to receive funds, and its chain.

        Returns JSON {walletId, chain: "solana" | "evm", network, address}: base58 for a
        Solana wallet; for an EVM wallet a 0x address (EIP-55), the same on every EVM network.
        """
        return tool_result(await api.get("/v1/wallet/address"))

    @server.tool(title="Wallet balance", annotations=READ_ONLY)
    async def get_balance(network: Network = None) -> CallToolResult:
        """Get this wallet's balance of its native coin (SOL; ETH, or POL on Polygon).

        Returns JSON {walletId, chain, network, address, balance, decimals, symbol} and,
        for SOL, balanceSol; for others uiBalance. `balance` is in base units as a decimal
        string (lamports: 1 SOL = 10^9; wei: 1 ETH = 10^18); the other is the same amount in
        whole coins, for reading only. `network` reads another network of the wallet's
        chain (EVM: e.g. base); omit for the wallet's own.
        """
        result = await api.get("/v1/wallet/balance", params=_network(network))
        if isinstance(result, Ok) and isinstance(result.data, dict):
            data = result.data
            if data.get("symbol") == "SOL":
                result = Ok({**data, "balanceSol": _sol(data.get("balance"))})
            else:
                ui = ui_amount(data.get("balance"), data.get("decimals"))
                result = Ok({**data, "uiBalance": ui})
        return tool_result(result)

    @server.tool(title="Wallet assets", annotations=READ_ONLY)
    async def get_assets(network: Network = None) -> CallToolResult:
        """List what this wallet holds: the native coin, and every SPL token account (Solana)
        or the registry's ERC-20 tokens, USDC among them (EVM).

        Returns JSON {walletId, network, items: [{symbol (null for an unknown mint), mint
        (null for the native coin; a token's mint or contract address), amount, decimals,
        uiAmount, tokenProgram}]}. `amount` is in base units as a decimal string (lamports
        for SOL, wei for ETH); one token is 10^decimals base units, and send_token takes
        amounts in those base units. `uiAmount` is the same amount in whole tokens, for
        reading only. `network` reads another network of the wallet's chain; omit for its own.
        """
        result = await api.get("/v1/wallet/assets", params=_network(network))
        if isinstance(result, Ok):
            result = Ok(with_ui_amounts(result.data))
        return tool_result(result)

    @server.tool(title="Spending policy", annotations=READ_ONLY)
    async def get_policy() -> CallToolResult:
        """Get the rules this wallet's sends must follow, and what is left of each limit.

        Returns JSON {policy, version, constraints, remaining: {daily, monthly,
        sendsThisHour, tokens, usd?: {daily, monthly, total, perTx}}}. `policy` is the
        owner's rule for the wallet: up to instantMax a send goes out at once, up to
        notifyMax the owner is told, up to delayMax it waits delaySeconds, above that it
        waits for the owner's approval (approvalTimeout seconds); dailyLimit/monthlyLimit
        over rolling 24 h/30 days also escalate to approval; allowedRecipients and
        allowedTokens refuse anything else; tokens holds the same ceilings per mint.
        `constraints` are this session's hard caps (maxAmountPerTx, maxAmountPerDay,
        allowedRecipients): a send above them is refused. Amounts are base units as
        decimal strings (lamports for SOL); an absent field means no such rule. Dollar
        rules (policy.usd, constraints maxUsd*) are in US dollars over every token:
        remaining.usd says what they leave in dollars (daily: the tighter of the wallet's
        and this session's 24 h; total: what this session may still spend in its life).
        A send the owner's dollar rules cannot price waits for the owner (tierReason
        "no price"). Check it before a large send.
        """
        return tool_result(await api.get("/v1/wallet/policy"))


def _sol(lamports: object) -> str | None:
    return ui_amount(lamports, 9)


def ui_amount(base_units: object, decimals: object) -> str | None:
    """Base units as a decimal string of whole units ("1.5"), for reading only."""
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 30:
        return None
    if not isinstance(base_units, str | int) or isinstance(base_units, bool):
        return None
    try:
        amount = Decimal(str(base_units)).scaleb(-decimals)
    except ArithmeticError:
        return None
    if not amount.is_finite():
        return None
    return format(amount.normalize(), "f")


def with_ui_amounts(data: object) -> object:
    """The assets answer with each item's uiAmount beside its base-unit amount."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return data
    items = [
        {**item, "uiAmount": ui_amount(item.get("amount"), item.get("decimals"))}
        if isinstance(item, dict)
        else item
        for item in data["items"]
    ]
    return {**data, "items": items}
