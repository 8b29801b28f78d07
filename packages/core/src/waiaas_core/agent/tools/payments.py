"""The tool that pays for HTTP resources (x402) through the daemon, within the owner's rules."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from waiaas_core.agent.api import Api, NetworkError, Ok
from waiaas_core.agent.results import tool_result
from waiaas_core.limits import MAX_AMOUNT_DIGITS

# The daemon bounds the resource's answer itself (timeoutSeconds, default 30 s);
# the MCP call waits for that plus the payment's own steps.
PAY_TIMEOUT = 90.0
# A dropped connection is retried with the same idempotency key: never a second payment.
NETWORK_RETRIES = 2

Url = Annotated[
    str,
    Field(
        description="The http:// or https:// URL of the resource to fetch.",
        max_length=2048,
        pattern=r"^https?://\S+$",
    ),
]
Method = Annotated[
    Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
    Field(description="HTTP method; GET unless the API says otherwise."),
]
Body = Annotated[
    str | None,
    Field(description="Request body (JSON text) for POST, PUT or PATCH.", max_length=32768),
]
MaxAmount = Annotated[
    str | None,
    Field(
        description=(
            "The most you agree to pay for this one request, in the asset's base units "
            "(USDC has 6 decimals: 1000000 = 1 USDC), as a decimal string. A higher price "
            "is refused and nothing is paid."
        ),
        pattern=r"^[1-9][0-9]*$",
        max_length=MAX_AMOUNT_DIGITS,
    ),
]


def pay_outcome(body: Any) -> Any:
    """The daemon's answer, with a sentence for a model when nothing was paid yet."""
    if not isinstance(body, dict):
        return body
    payment = body.get("payment") or {}
    tx_id = payment.get("transactionId")
    if body.get("outcome") == "WAITING":
        return {
            **body,
            "message": (
                "Not paid yet: the wallet owner's policy holds this payment "
                f"({payment.get('status')}). Tell the user to ask the owner to approve "
                f"transaction {tx_id} (waiaas approve {tx_id}); once approved, call "
                "pay_for_resource again with the same url to pay and get the resource, "
                "before the approval expires (approvalExpiresAt, then it is EXPIRED and "
                "the owner is asked again). If you no longer want it, "
                f"cancel_transaction('{tx_id}') withdraws it, approved or not."
            ),
        }
    if body.get("outcome") == "RECORDED":
        return {
            **body,
            "message": (
                f"This request was already handled: transaction {tx_id} is "
                f"{payment.get('status')}. It was not paid again."
            ),
        }
    return body


def register(server: MCPServer, api: Api) -> None:
    @server.tool(
        title="Pay for an HTTP resource (x402)",
        annotations=ToolAnnotations(
            destructive_hint=True, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def pay_for_resource(
        url: Url,
        method: Method = "GET",
        body: Body = None,
        max_amount: MaxAmount = None,
    ) -> CallToolResult:
        """Fetch a URL and, if it answers HTTP 402 Payment Required (x402), pay for it with
        USDC from this wallet and fetch it again. Moves real funds.

        The wallet owner decides which hosts may be paid, the most per request and the
        usual spending limits; you never see keys. Set max_amount to the most you agree to
        pay (base units; 1000000 = 1 USDC). Returns JSON {outcome, resource, payment}:
        outcome FREE (no payment was asked), PAID (resource = {status, contentType, body,
        bodyEncoding, size}; payment = {transactionId, status, amount, token, payTo,
        origin, settlement}) or WAITING (the owner must approve first: tell the user, then
        call again with the same url before the approval expires, or cancel_transaction if
        you no longer want it). Fails with POLICY_DENIED (host not allowed, an address on
        the owner's machine or private network, or price above the owner's ceiling: ask
        the owner), KILL_SWITCH_ACTIVE (nothing is fetched until the owner turns it off),
        CONSTRAINT_VIOLATED (above max_amount or this session's limits),
        INSUFFICIENT_BALANCE, PAYMENT_UNSUPPORTED (the resource wants a payment this wallet
        cannot make) or PAYMENT_FAILED (the resource misbehaved; the message says whether
        anything was paid — never pay the same thing again blindly). When a resource offers
        several ways to pay, the daemon pays exactly one.
        """
        request: dict[str, Any] = {
            "url": url,
            "method": method,
            "idempotencyKey": f"mcp-{uuid.uuid4()}",
        }
        if body is not None:
            request["body"] = body
        if max_amount is not None:
            request["maxAmount"] = max_amount
        result = await api.post("/v1/x402/pay", request, timeout=PAY_TIMEOUT)
        for _ in range(NETWORK_RETRIES):
            if not isinstance(result, NetworkError):
                break
            result = await api.post("/v1/x402/pay", request, timeout=PAY_TIMEOUT)
        if isinstance(result, Ok):
            result = Ok(pay_outcome(result.data))
        return tool_result(result)
