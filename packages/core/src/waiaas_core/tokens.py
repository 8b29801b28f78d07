"""Session tokens: ``wai_sess_`` + a JWT signed HS256 with claims sub, wlt, iat, exp.

The daemon signs and verifies; the MCP server only decodes the payload (without
verifying) to learn when to renew.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import canonical_uuid

TOKEN_PREFIX = "wai_sess_"
ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "wlt", "iat", "exp")


@dataclass(frozen=True)
class SessionClaims:
    session_id: str
    wallet_id: str
    issued_at: int
    expires_at: int


def sign_session_token(
    secret: bytes, session_id: str, wallet_id: str, issued_at: int, expires_at: int
) -> str:
    # jti makes every token unique, even two issued in one second with one expiry,
    # so a renewal's compare-and-swap on the token hash can always tell them apart.
    payload = {
        "sub": session_id,
        "wlt": wallet_id,
        "iat": issued_at,
        "exp": expires_at,
        "jti": secrets.token_hex(8),
    }
    return TOKEN_PREFIX + jwt.encode(payload, secret, algorithm=ALGORITHM)


def verify_session_token(token: str, secret: bytes, *, now: float | None = None) -> SessionClaims:
    """Check prefix, algorithm, signature and claims; expiry is judged against ``now``."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise WaiaasError("INVALID_TOKEN", "The token does not start with wai_sess_.")
    try:
        payload = jwt.decode(
            token[len(TOKEN_PREFIX) :],
            secret,
            algorithms=[ALGORITHM],
            # Expiry is checked below against the injectable clock.
            options={"verify_exp": False, "verify_iat": False, "require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError:
        raise WaiaasError("INVALID_TOKEN") from None
    claims = _claims(payload)
    if claims.expires_at <= (time.time() if now is None else now):
        raise WaiaasError("SESSION_EXPIRED")
    return claims


def decode_unverified(token: str) -> dict[str, Any]:
    """The JWT payload without checking the signature; raises ValueError if unreadable."""
    raw = token.strip()
    if raw.startswith(TOKEN_PREFIX):
        raw = raw[len(TOKEN_PREFIX) :]
    try:
        payload = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise ValueError("token payload is not a readable JWT") from exc
    if not isinstance(payload, dict):
        raise ValueError("token payload is not an object")
    return payload


def _claims(payload: dict[str, Any]) -> SessionClaims:
    sub, wlt, iat, exp = (payload.get(name) for name in REQUIRED_CLAIMS)
    if not (
        isinstance(sub, str)
        and isinstance(wlt, str)
        and _is_uuid(sub)
        and _is_uuid(wlt)
        and isinstance(iat, int)
        and isinstance(exp, int)
        and _is_int(iat)
        and _is_int(exp)
    ):
        raise WaiaasError("INVALID_TOKEN", "The token's claims are malformed.")
    return SessionClaims(session_id=sub, wallet_id=wlt, issued_at=iat, expires_at=exp)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_uuid(value: Any) -> bool:
    try:
        canonical_uuid(value)
    except ValueError:
        return False
    return True
