"""sessionAuth: send, list and read the token's wallet's transactions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon import parsing, transactions
from waiaas_daemon.auth import session_auth, state_of

MAX_MEMO = 256


async def send(request: Request) -> JSONResponse:
    body = await parsing.json_object(request)
    parsing.no_unknown_fields(body, {"to", "amount", "memo"})
    if "to" not in body:
        raise parsing.invalid("to", "is required")
    if "amount" not in body:
        raise parsing.invalid("amount", "is required")
    to = parsing.address(body["to"], "to")
    amount = parsing.lamports(body["amount"], "amount")
    memo = parsing.string(body, "memo", required=False, max_length=MAX_MEMO)
    tx = await transactions.send(state_of(request), request.state.auth, to, amount, memo)
    return JSONResponse(
        {"id": tx.id, "status": tx.status, "signature": tx.signature}, status_code=201
    )


async def list_transactions(request: Request) -> JSONResponse:
    state = state_of(request)
    limit = _limit(request.query_params.get("limit"))
    cursor = request.query_params.get("cursor")
    before = transactions.decode_cursor(cursor) if cursor else None
    wallet_id = request.state.auth.claims.wallet_id
    # One more than asked tells whether another page exists.
    rows = await state.db.list_transactions(wallet_id, limit + 1, before)
    page = rows[:limit]
    more = len(rows) > limit
    return JSONResponse(
        {
            "items": [transactions.transaction_view(tx) for tx in page],
            "cursor": transactions.encode_cursor(page[-1].seq) if more else None,
        }
    )


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise WaiaasError("INVALID_REQUEST", "limit: must be a whole number from 1 to 100")
    return int(raw)


async def get_transaction(request: Request) -> JSONResponse:
    tx_id = parsing.path_uuid(request, "id", "TRANSACTION_NOT_FOUND")
    tx = await transactions.get_for_wallet(
        state_of(request), request.state.auth.claims.wallet_id, tx_id
    )
    return JSONResponse(transactions.transaction_view(tx))


def routes() -> list[Route]:
    return [
        Route("/v1/transactions/send", session_auth(send), methods=["POST"]),
        Route("/v1/transactions", session_auth(list_transactions), methods=["GET"]),
        Route("/v1/transactions/{id}", session_auth(get_transaction), methods=["GET"]),
    ]
