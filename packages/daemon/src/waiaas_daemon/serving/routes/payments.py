"""sessionAuth: fetch an HTTP resource and pay for it with x402 within the owner's rules."""

from __future__ import annotations

import re

import msgspec
from starlette.requests import Request
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import payments
from waiaas_daemon.schemas.payments import KEY_PATTERN, PayRequest, PayResult
from waiaas_daemon.serving.api import Reply, operation
from waiaas_daemon.serving.auth import state_of

IDEMPOTENCY_HEADER = "idempotency-key"


async def pay_for_resource(request: Request, body: PayRequest) -> PayResult:
    """Fetch a URL; on HTTP 402 pay it (x402 exact, Solana) and fetch it again.

    201 paid, 200 free (or a used idempotency key's record), 202 when the owner's policy
    holds the payment. The idempotency key is the body's ``idempotencyKey`` or the
    ``Idempotency-Key`` header.
    """
    header = request.headers.get(IDEMPOTENCY_HEADER)
    if header is not None and body.idempotency_key is None:
        if not re.fullmatch(KEY_PATTERN.strip("^$"), header):
            raise WaiaasError(
                "INVALID_REQUEST", "Idempotency-Key: must be 8 to 128 letters, digits or . _ : -"
            )
        body = msgspec.structs.replace(body, idempotency_key=header)
    state = state_of(request)
    result, status = await payments.pay(state, request.state.auth, body)
    if status != 201:
        # The declared answer is PayResult; Reply only changes its status.
        return Reply(result, status)  # type: ignore[return-value]
    return result


def routes() -> list[Route]:
    return [
        operation(
            "POST",
            "/v1/x402/pay",
            pay_for_resource,
            auth="session",
            tag="agent",
            status=201,
            also=(200, 202),
            errors=(
                "POLICY_DENIED",
                "CONSTRAINT_VIOLATED",
                "RATE_LIMITED",
                "INSUFFICIENT_BALANCE",
                "PAYMENT_UNSUPPORTED",
                "PAYMENT_FAILED",
                "IDEMPOTENCY_CONFLICT",
                "WALLET_SUSPENDED",
                "KILL_SWITCH_ACTIVE",
                "WALLET_TERMINATED",
                "CHAIN_ERROR",
            ),
        ),
    ]
