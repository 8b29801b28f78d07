"""sessionAuth: send, list and read the token's wallet's transactions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.amounts import format_units
from waiaas_daemon.domain import pending, settlement, transactions
from waiaas_daemon.schemas.tokens import TokenRefField
from waiaas_daemon.schemas.transactions import (
    SendRequest,
    SendResult,
    Transaction,
    TransactionListQuery,
    TransactionPage,
    UsdValue,
)
from waiaas_daemon.serving.api import Reply, operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.storage import TransactionRow

TRANSACTION_ID = {"id": "Transaction id; another wallet's is not found."}


def transaction_model(tx: TransactionRow) -> Transaction:
    return Transaction(
        id=tx.id,
        wallet_id=tx.wallet_id,
        type=tx.type,
        status=tx.status,
        to=tx.to_address,
        amount=tx.amount,
        memo=tx.memo,
        signature=tx.signature,
        error=tx.error,
        created_at=tx.created_at,
        updated_at=tx.updated_at,
        tier=tx.tier,  # type: ignore[arg-type]
        execute_at=tx.execute_at,
        approval_expires_at=tx.approval_expires_at,
        decided_at=tx.decided_at,
        reason=tx.reason,
        token=token_field(tx),
        origin=tx.payment_origin,
        settlement=tx.payment_settlement,
        network=tx.network,
        nonce=tx.nonce,
        fee=tx.fee,
        usd=usd_field(tx),
        tier_reason=tx.tier_reason,
    )


def usd_field(tx: TransactionRow) -> UsdValue | None:
    """The send's dollar value as decided, or why none; None when no dollar rule asked."""
    if tx.usd_micros is None:
        return None if tx.usd_error is None else UsdValue(error=tx.usd_error)
    return UsdValue(
        value=format_units(tx.usd_micros, 6),
        price=tx.usd_price,
        source=tx.usd_source,
        priced_at=tx.usd_priced_at,
    )


def token_field(tx: TransactionRow) -> TokenRefField | None:
    return TokenRefField.of(tx.token_mint, tx.token_symbol, tx.token_decimals)


async def send_transaction(request: Request, body: SendRequest) -> SendResult:
    """Send lamports, or a token's base units, from the token's wallet (202 when it waits)."""
    tx = await transactions.send(
        state_of(request),
        request.state.auth,
        body.to,
        int(body.amount),
        body.memo,
        body.token,
        body.network,
    )
    result = SendResult(
        id=tx.id,
        status=tx.status,
        tier=tx.tier,  # type: ignore[arg-type]
        signature=tx.signature,
        execute_at=tx.execute_at,
        approval_expires_at=tx.approval_expires_at,
        tier_reason=tx.tier_reason,
        usd=usd_field(tx),
    )
    if tx.status in pending.WAITING:
        # The declared answer is SendResult; Reply only changes its status.
        return Reply(result, 202)  # type: ignore[return-value]
    return result


async def cancel_transaction(request: Request) -> Transaction:
    """Withdraw a send of the token's wallet that is still QUEUED or PENDING_APPROVAL, or a
    payment the owner APPROVED that the agent has not paid."""
    tx_id = path_id(request, "id", "TRANSACTION_NOT_FOUND")
    auth = request.state.auth
    tx = await pending.cancel(state_of(request), auth.claims.wallet_id, auth.session.id, tx_id)
    return transaction_model(tx)


async def list_transactions(request: Request, query: TransactionListQuery) -> TransactionPage:
    """The token's wallet transactions, newest first (``?network=``: those of one network)."""
    state = state_of(request)
    before = transactions.decode_cursor(query.cursor) if query.cursor else None
    wallet_id = request.state.auth.claims.wallet_id
    # One more than asked tells whether another page exists.
    rows = await state.db.list_transactions(wallet_id, query.limit + 1, before, query.network)
    page = rows[: query.limit]
    more = len(rows) > query.limit
    return TransactionPage(
        items=[transaction_model(tx) for tx in page],
        cursor=transactions.encode_cursor(page[-1].seq) if more else None,
    )


async def get_transaction(request: Request) -> Transaction:
    """One transaction of the token's wallet."""
    tx_id = path_id(request, "id", "TRANSACTION_NOT_FOUND")
    wallet_id = request.state.auth.claims.wallet_id
    return transaction_model(await settlement.current(state_of(request), wallet_id, tx_id))


def routes() -> list[Route]:
    return [
        operation(
            "POST",
            "/v1/transactions/send",
            send_transaction,
            auth="session",
            tag="agent",
            status=201,
            also=(202,),
            errors=(
                "INVALID_ADDRESS",
                "CONSTRAINT_VIOLATED",
                "POLICY_DENIED",
                "RATE_LIMITED",
                "INSUFFICIENT_BALANCE",
                "TOKEN_NOT_FOUND",
                "UNSUPPORTED_TOKEN",
                "WALLET_SUSPENDED",
                "KILL_SWITCH_ACTIVE",
                "WALLET_TERMINATED",
                "CHAIN_ERROR",
            ),
        ),
        operation(
            "POST",
            "/v1/transactions/{id}/cancel",
            cancel_transaction,
            auth="session",
            tag="agent",
            path_params=TRANSACTION_ID,
            errors=("TRANSACTION_NOT_FOUND", "TRANSACTION_NOT_PENDING"),
        ),
        operation("GET", "/v1/transactions", list_transactions, auth="session", tag="agent"),
        operation(
            "GET",
            "/v1/transactions/{id}",
            get_transaction,
            auth="session",
            tag="agent",
            path_params=TRANSACTION_ID,
            errors=("TRANSACTION_NOT_FOUND",),
        ),
    ]
