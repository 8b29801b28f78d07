"""Tools that move funds and look at the wallet's transactions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from waiaas_mcp.client import SEND_TIMEOUT, ApiClient
from waiaas_mcp.results import tool_result

MAX_LAMPORTS = 2**64 - 1
BASE58_ADDRESS = r"^[1-9A-HJ-NP-Za-km-z]{32,44}$"

Recipient = Annotated[
    str,
    Field(
        description="Recipient Solana address, base58 (32 to 44 characters).",
        pattern=BASE58_ADDRESS,
    ),
]
Lamports = Annotated[
    int,
    Field(
        description="Amount in lamports (1 SOL = 1,000,000,000 lamports), a positive integer.",
        ge=1,
        le=MAX_LAMPORTS,
    ),
]
Memo = Annotated[
    str | None,
    Field(description="Optional memo recorded with the transfer.", max_length=256),
]
Limit = Annotated[
    int, Field(description="How many transactions to return, 1 to 100.", ge=1, le=100)
]
Cursor = Annotated[
    str | None,
    Field(description="The `cursor` of the previous page; omit for the newest.", max_length=512),
]
TransactionId = Annotated[
    str,
    Field(
        description="The transaction id, as returned by send_token or list_transactions.",
        pattern=r"^[A-Za-z0-9_-]{1,128}$",
    ),
]


def register(server: MCPServer, api: ApiClient) -> None:
    @server.tool(
        title="Send SOL",
        annotations=ToolAnnotations(
            destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def send_token(to: Recipient, amount: Lamports, memo: Memo = None) -> CallToolResult:
        """Send SOL from this wallet to another Solana address. This moves real funds.

        `amount` is in lamports (1 SOL = 1,000,000,000 lamports). Two identical calls make
        two transfers. Returns JSON {id, status, signature}; status is PENDING, SUBMITTED,
        CONFIRMED or FAILED. Fails with INSUFFICIENT_BALANCE, INVALID_ADDRESS, or
        CONSTRAINT_VIOLATED when the session's limits forbid the transfer.
        """
        body: dict[str, str] = {"to": to, "amount": str(amount)}
        if memo:
            body["memo"] = memo
        return tool_result(await api.post("/v1/transactions/send", body, timeout=SEND_TIMEOUT))

    @server.tool(title="List transactions", annotations=ToolAnnotations(read_only_hint=True))
    async def list_transactions(limit: Limit = 20, cursor: Cursor = None) -> CallToolResult:
        """List this wallet's transactions, newest first, one page at a time.

        Returns JSON {items, cursor}: each item is {id, walletId, type, status, to, amount
        (lamports, decimal string), memo, signature, error, createdAt, updatedAt (unix
        seconds)}; pass `cursor` back for the next page; it is null after the last one.
        """
        params: dict[str, str | int] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return tool_result(await api.get("/v1/transactions", params=params))

    @server.tool(title="Get a transaction", annotations=ToolAnnotations(read_only_hint=True))
    async def get_transaction(transaction_id: TransactionId) -> CallToolResult:
        """Get one of this wallet's transactions by id, e.g. to see if a transfer confirmed.

        Returns JSON {id, walletId, type, status, to, amount (lamports, decimal string),
        memo, signature, error, createdAt, updatedAt}. Fails with TRANSACTION_NOT_FOUND.
        """
        return tool_result(await api.get(f"/v1/transactions/{quote(transaction_id, safe='')}"))
