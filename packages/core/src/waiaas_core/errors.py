"""The error table of waiaas and the one exception type that carries a code.

Exception tree::

    Exception
     └── WaiaasError          code, message, hint, retry_after; status and retryable
                              from ERRORS

The daemon raises WaiaasError and answers with ``to_body()``; the MCP server
and the CLI rebuild it from a JSON body with ``WaiaasError.from_body()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    code: str
    status: int
    retryable: bool
    message: str


def _table(*specs: ErrorSpec) -> dict[str, ErrorSpec]:
    return {spec.code: spec for spec in specs}


ERRORS: dict[str, ErrorSpec] = _table(
    ErrorSpec("INVALID_REQUEST", 400, False, "The request is not valid."),
    ErrorSpec("INVALID_TOKEN", 401, False, "The session token is not valid."),
    ErrorSpec("SESSION_EXPIRED", 401, False, "The session has expired."),
    ErrorSpec("SESSION_REVOKED", 401, False, "The session has been revoked."),
    ErrorSpec("INVALID_MASTER_PASSWORD", 401, False, "The master password is wrong."),
    ErrorSpec(
        "MASTER_PASSWORD_LOCKED",
        429,
        False,
        "Too many wrong master passwords; try again later.",
    ),
    ErrorSpec("SESSION_NOT_FOUND", 404, False, "No such session."),
    ErrorSpec("WALLET_NOT_FOUND", 404, False, "No such wallet."),
    ErrorSpec("TRANSACTION_NOT_FOUND", 404, False, "No such transaction."),
    ErrorSpec(
        "SESSION_LIMIT_EXCEEDED",
        403,
        False,
        "The wallet has the maximum number of active sessions.",
    ),
    ErrorSpec("CONSTRAINT_VIOLATED", 403, False, "The session's constraints forbid this."),
    ErrorSpec("WALLET_TERMINATED", 403, False, "The wallet has been terminated."),
    ErrorSpec(
        "WALLET_NAME_TAKEN", 409, False, "Another wallet that is not terminated has this name."
    ),
    ErrorSpec("RENEWAL_CONFLICT", 409, False, "The token has already been renewed."),
    ErrorSpec("RENEWAL_LIMIT_EXCEEDED", 403, False, "The session has used all its renewals."),
    ErrorSpec(
        "SESSION_LIFETIME_EXPIRED",
        403,
        False,
        "The session has reached its absolute lifetime.",
    ),
    ErrorSpec("RENEWAL_TOO_EARLY", 400, True, "It is too early to renew this token."),
    ErrorSpec("INSUFFICIENT_BALANCE", 400, False, "The wallet's balance is too low."),
    ErrorSpec("INVALID_ADDRESS", 400, False, "The address is not a valid Solana address."),
    ErrorSpec("CHAIN_ERROR", 502, True, "The chain could not be reached or failed."),
    ErrorSpec("RATE_LIMITED", 429, True, "Too many requests; slow down."),
    ErrorSpec("PAYLOAD_TOO_LARGE", 413, False, "The request body is too large."),
    ErrorSpec("INVALID_HOST", 400, False, "The Host header is not a loopback name."),
    ErrorSpec("INVALID_ORIGIN", 403, False, "The Origin header is not one this daemon serves."),
    ErrorSpec("NOT_FOUND", 404, False, "No such route."),
    ErrorSpec("METHOD_NOT_ALLOWED", 405, False, "The route does not accept this method."),
    ErrorSpec("POLICY_DENIED", 403, False, "The wallet's policy forbids this."),
    ErrorSpec("WALLET_SUSPENDED", 403, False, "The wallet is suspended."),
    ErrorSpec("KILL_SWITCH_ACTIVE", 403, False, "The owner has stopped all spending."),
    ErrorSpec(
        "TRANSACTION_NOT_PENDING",
        409,
        False,
        "The transaction is no longer waiting for a decision.",
    ),
    ErrorSpec(
        "POLICY_VERSION_CONFLICT",
        409,
        False,
        "The policy was changed since it was read; nothing was written.",
    ),
    ErrorSpec("TOKEN_NOT_FOUND", 404, False, "No such token in the registry."),
    ErrorSpec("UNSUPPORTED_TOKEN", 400, False, "This token cannot be sent by waiaas."),
    ErrorSpec(
        "PAYMENT_UNSUPPORTED",
        400,
        False,
        "The resource asks for a payment this wallet cannot make (scheme, network or asset).",
    ),
    ErrorSpec(
        "PAYMENT_FAILED",
        502,
        False,
        "The paid resource did not answer as the payment protocol requires.",
    ),
    ErrorSpec(
        "IDEMPOTENCY_CONFLICT", 409, False, "The idempotency key was used for another request."
    ),
    ErrorSpec("CONSOLE_AUTH_REQUIRED", 401, False, "Sign in to the console first."),
    ErrorSpec("CSRF_FAILED", 403, False, "The request did not come from the console."),
    ErrorSpec(
        "TELEGRAM_NOT_CONFIGURED",
        409,
        False,
        "No Telegram bot is configured ([notifications] telegram_bot_token).",
    ),
    ErrorSpec(
        "STORAGE_UNAVAILABLE",
        503,
        True,
        "The daemon's database is unavailable for now; retry shortly.",
    ),
    ErrorSpec("INTERNAL_ERROR", 500, False, "Internal error."),
)


class WaiaasError(Exception):
    """An error with a code from ERRORS; status and retryability follow from it."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        hint: str | None = None,
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        spec = ERRORS.get(code)
        self.code = code
        self.message = message or (spec.message if spec else code)
        self.hint = hint
        # An error rebuilt from the wire keeps the status it came with.
        self.status = status if status is not None else (spec.status if spec else 500)
        self.retryable = spec.retryable if spec else False
        # Seconds until a 429 or 503 may be retried; the daemon sends it as Retry-After.
        self.retry_after = retry_after
        super().__init__(f"{code}: {self.message}")

    def to_body(self, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.hint:
            body["hint"] = self.hint
        if request_id is not None:
            body["requestId"] = request_id
        return body

    @classmethod
    def from_body(cls, body: Any, status: int) -> WaiaasError:
        """Rebuild the error a daemon answered; anything unexpected is kept readable."""
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            message = body.get("message")
            hint = body.get("hint")
            return cls(
                body["code"],
                message if isinstance(message, str) else None,
                hint=hint if isinstance(hint, str) else None,
                status=status,
            )
        return cls("INTERNAL_ERROR", f"Unexpected answer (HTTP {status})", status=status)
