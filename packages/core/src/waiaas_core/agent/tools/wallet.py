"""Tools about the wallet itself: its address, its balances and the owner's policy."""

from __future__ import annotations

from decimal import Decimal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations

from waiaas_core.agent.api import Api, Ok
from waiaas_core.agent.results import tool_result

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
LAMPORTS_PER_SOL = Decimal(10**9)


def register(server: MCPServer, api: Api) -> None:
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

    @server.tool(title="Wallet assets", annotations=READ_ONLY)
    async def get_assets() -> CallToolResult:
        """List what this wallet holds: SOL and every SPL token account.

        Returns JSON {walletId, network, items: [{symbol (null for an unknown mint), mint
        (null for SOL), amount, decimals, uiAmount, tokenProgram}]}. `amount` is in base
        units as a decimal string (lamports for SOL); one token is 10^decimals base units,
        and send_token takes amounts in those base units. `uiAmount` is the same amount in
        whole tokens, for reading only.
        """
        result = await api.get("/v1/wallet/assets")
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
