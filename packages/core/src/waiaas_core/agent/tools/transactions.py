"""Tools that move funds and look at, or withdraw, the wallet's transactions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import AfterValidator, Field, Strict

from waiaas_core.agent.api import SEND_TIMEOUT, Api, Ok
from waiaas_core.agent.results import tool_result
from waiaas_core.limits import (
    BASE58_ADDRESS,
    DEFAULT_PAGE,
    MAX_AMOUNT,
    MAX_AMOUNT_DIGITS,
    MAX_MEMO,
    MAX_PAGE,
    canonical_uuid,
)
from waiaas_core.networks import NETWORK_NAMES

# A Solana address (base58) or an EVM one (0x and 40 hex digits); the daemon checks
# that it is of the wallet's chain, and an EVM address's EIP-55 checksum.
ADDRESS_PATTERN = rf"^({BASE58_ADDRESS[1:-1]}|0x[0-9a-fA-F]{{40}})$"

Recipient = Annotated[
    str,
    Field(
        description=(
            "Recipient's address, of this wallet's chain (get_address says which): base58, "
            "32 to 44 characters, for a Solana wallet; 0x and 40 hex digits for an EVM "
            "wallet. Another chain's address is refused (INVALID_ADDRESS)."
        ),
        pattern=ADDRESS_PATTERN,
    ),
]


def known_network(value: str | None) -> str | None:
    if value is not None and value not in NETWORK_NAMES:
        raise ValueError(f"network must be one of {', '.join(NETWORK_NAMES)}")
    return value


Network = Annotated[
    str | None,
    Field(
        description=(
            "The network to use, of this wallet's chain: omit for the wallet's own (see "
            "get_address). An EVM wallet has one address on every EVM network: ethereum, "
            "base, arbitrum, optimism, polygon, their testnets (sepolia, base-sepolia, "
            "arbitrum-sepolia, optimism-sepolia, polygon-amoy) and evm-local; sending "
            "elsewhere than its own network needs the owner's allowedNetworks."
        ),
        json_schema_extra={"enum": [*NETWORK_NAMES, None]},
    ),
    AfterValidator(known_network),
]
Amount = Annotated[
    Annotated[int, Strict(), Field(ge=1, le=MAX_AMOUNT)]
    | Annotated[str, Field(pattern=r"^[1-9][0-9]*$", max_length=MAX_AMOUNT_DIGITS)],
    Field(
        description=(
            "Amount in the asset's base units, a positive integer (or the same integer as a "
            "decimal string, safer above 2^53): lamports for SOL (1 SOL = 1,000,000,000 "
            "lamports), wei for ETH or POL (1 ETH = 10^18 wei); for a token, 10^decimals "
            "base units make one token (decimals from get_assets, e.g. 6 for USDC)."
        )
    ),
    AfterValidator(lambda value: base_units(value)),
]
TokenRef = Annotated[
    str | None,
    Field(
        description=(
            "The token to send: a symbol from get_assets (e.g. USDC) or its mint address "
            "(Solana) or contract address (EVM, an ERC-20). Omit to send the native coin "
            "(SOL, ETH, POL)."
        ),
        pattern=r"^[A-Za-z0-9._-]{1,44}$",
    ),
]
Memo = Annotated[
    str | None,
    Field(description="Optional memo recorded with the transfer.", max_length=MAX_MEMO),
]
Limit = Annotated[
    int,
    Field(description=f"How many transactions to return, 1 to {MAX_PAGE}.", ge=1, le=MAX_PAGE),
]
Cursor = Annotated[
    str | None,
    Field(description="The `cursor` of the previous page; omit for the newest.", max_length=512),
]
TransactionId = Annotated[
    str,
    Field(
        description="The transaction id (a UUID), as send_token or list_transactions gave it.",
        json_schema_extra={"format": "uuid"},
    ),
    AfterValidator(canonical_uuid),
]


def base_units(value: int | str) -> str:
    """The amount as the daemon's decimal string; ValueError unless 1..MAX_AMOUNT."""
    if isinstance(value, bool):
        raise ValueError("amount must be an integer")
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > MAX_AMOUNT_DIGITS:
        raise ValueError("amount must be a positive integer of base units")
    if not 1 <= int(text) <= MAX_AMOUNT:
        raise ValueError(f"amount must be between 1 and {MAX_AMOUNT}")
    return str(int(text))


def send_outcome(body: Any) -> Any:
    """The daemon's send answer, with a sentence for a model when the send has to wait."""
    if not isinstance(body, dict):
        return body
    status, tx_id = body.get("status"), body.get("id")
    if status == "QUEUED":
        when = iso(body.get("executeAt"))
        return {
            **body,
            "executeAtIso": when,
            "message": (
                f"Not sent yet: the wallet owner's policy holds this transfer until {when} "
                "(UTC), when it is sent unless the owner rejects it. Tell the user it is "
                f"queued. Check it with get_transaction('{tx_id}'); "
                f"cancel_transaction('{tx_id}') withdraws it."
            ),
        }
    if status == "PENDING_APPROVAL":
        until = iso(body.get("approvalExpiresAt"))
        why = ""
        if body.get("tierReason") == "no price":
            why = "No usable price was found to check the owner's dollar limits. "
        return {
            **body,
            "approvalExpiresAtIso": until,
            "message": (
                f"{why}Not sent: this transfer waits for the wallet owner's approval. Tell the "
                f"user to ask the owner to approve transaction {tx_id} (waiaas approve {tx_id}) "
                f"before {until}; after that it expires and nothing is sent. Do not "
                f"send it again meanwhile. Check it with get_transaction('{tx_id}')."
            ),
        }
    return body


def iso(timestamp: Any) -> str | None:
    """Unix seconds as ISO 8601 UTC; None for anything else."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def register(server: MCPServer, api: Api) -> None:
    @server.tool(
        title="Send SOL or a token",
        annotations=ToolAnnotations(
            destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def send_token(
        to: Recipient,
        amount: Amount,
        token: TokenRef = None,
        memo: Memo = None,
        network: Network = None,
    ) -> CallToolResult:
        """Send the native coin (SOL; ETH, or POL on Polygon) or a token (SPL, ERC-20) from
        this wallet to another address of the same chain. Moves real funds.

        `amount` is in base units: lamports for SOL (1 SOL = 1,000,000,000 lamports), wei
        for ETH/POL (10^18 per coin); for a token, 10^decimals per token (decimals from
        get_assets). `to` must be an address of this wallet's chain (a Solana address for
        an EVM wallet, or the reverse, is INVALID_ADDRESS). `network` picks another network
        of the wallet's chain (EVM), if the owner allows it. Two identical calls make
        two transfers. Returns JSON {id, status, tier, signature}; status is PENDING,
        SUBMITTED, CONFIRMED or FAILED. The owner's policy may hold a send: status QUEUED
        (sent at executeAt unless the owner stops it) or PENDING_APPROVAL (sent only when
        the owner approves before approvalExpiresAt). Those are not errors: tell the user
        to wait for the owner, and check later with get_transaction. Fails with
        INSUFFICIENT_BALANCE, INVALID_ADDRESS, TOKEN_NOT_FOUND, CONSTRAINT_VIOLATED (this
        session's limits, see get_policy), POLICY_DENIED (the owner's rules) or
        RATE_LIMITED (retryAfter seconds).
        """
        body: dict[str, str] = {"to": to, "amount": str(amount)}
        if token:
            body["token"] = token
        if memo:
            body["memo"] = memo
        if network:
            body["network"] = network
        result = await api.post("/v1/transactions/send", body, timeout=SEND_TIMEOUT)
        if isinstance(result, Ok):
            result = Ok(send_outcome(result.data))
        return tool_result(result)

    @server.tool(
        title="Cancel a waiting transaction",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def cancel_transaction(transaction_id: TransactionId) -> CallToolResult:
        """Withdraw one of this wallet's sends that is still QUEUED or PENDING_APPROVAL, or a
        payment for a resource (pay_for_resource) the owner APPROVED that you did not pay.

        Nothing is sent afterwards. Returns the transaction JSON with status CANCELLED.
        Fails with TRANSACTION_NOT_PENDING when it was already sent, approved (a send),
        paid, rejected, cancelled or expired, and TRANSACTION_NOT_FOUND for an unknown id.
        """
        path = f"/v1/transactions/{quote(transaction_id, safe='')}/cancel"
        return tool_result(await api.post(path, {}))

    @server.tool(title="List transactions", annotations=ToolAnnotations(read_only_hint=True))
    async def list_transactions(
        limit: Limit = DEFAULT_PAGE, cursor: Cursor = None, network: Network = None
    ) -> CallToolResult:
        """List this wallet's transactions, newest first, one page at a time (`network`:
        only those of one network; omit for all).

        Returns JSON {items, cursor}: each item is {id, walletId, type, status, tier, to,
        amount (base units, decimal string: lamports for SOL, wei for ETH), token (null for
        the native coin), network, memo, signature, error, fee (EVM, wei, once mined),
        executeAt, approvalExpiresAt, createdAt, updatedAt (unix seconds)}; pass `cursor`
        back for the next page; it is null after the last one.
        """
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        if network:
            params["network"] = network
        return tool_result(await api.get("/v1/transactions", params=params))

    @server.tool(title="Get a transaction", annotations=ToolAnnotations(read_only_hint=True))
    async def get_transaction(transaction_id: TransactionId) -> CallToolResult:
        """Get one of this wallet's transactions by id, e.g. to see if a transfer confirmed.

        Returns JSON {id, walletId, type, status, tier, to, amount (base units, decimal
        string: lamports for SOL), token, memo, signature, error, executeAt,
        approvalExpiresAt, decidedAt, reason, createdAt, updatedAt (unix seconds)}. status
        QUEUED or PENDING_APPROVAL means it still waits for its time or for the owner.
        Fails with TRANSACTION_NOT_FOUND.
        """
        return tool_result(await api.get(f"/v1/transactions/{quote(transaction_id, safe='')}"))
