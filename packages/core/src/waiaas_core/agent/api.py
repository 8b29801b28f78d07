"""The seam between the agent's tools and a transport: ``Api`` and ``SessionSource``.

Every REST answer is classified as one of Ok, Expired, NetworkError or ApiError;
tools and resources shape those into MCP results in one place (``results``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from waiaas_core.errors import WaiaasError

if TYPE_CHECKING:  # only annotations: the stdio server imports httpx at its first request
    import httpx

# A transfer is confirmed before the daemon answers; give the chain time.
SEND_TIMEOUT = 60.0
DEFAULT_TIMEOUT = 15.0


@dataclass(frozen=True)
class Ok:
    data: Any


@dataclass(frozen=True)
class Expired:
    message: str


@dataclass(frozen=True)
class NetworkError:
    message: str


@dataclass(frozen=True)
class ApiError:
    error: WaiaasError


ApiResult = Ok | Expired | NetworkError | ApiError


class Api(Protocol):
    """The daemon's agent routes (sessionAuth), called as this agent."""

    async def get(self, path: str, params: dict[str, Any] | None = None) -> ApiResult: ...

    async def post(
        self, path: str, body: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> ApiResult: ...


class SessionSource(Protocol):
    """What the agent is told about its own session, by whoever holds it."""

    async def session_info(self) -> dict[str, Any]:
        """get_session_info's JSON: the session, or the session_expired shape."""
        ...

    async def system_status(self) -> dict[str, Any]:
        """The JSON of ``waiaas://system/status``."""
        ...


def classify(response: httpx.Response) -> Ok | ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success:
        if body is None:
            return ApiError(WaiaasError("INTERNAL_ERROR", "The daemon's answer is not JSON."))
        return Ok(body)
    error = WaiaasError.from_body(body, response.status_code)
    error.retry_after = retry_after(response.headers.get("Retry-After"))
    return ApiError(error)


def retry_after(header: str | None) -> int | None:
    """Whole seconds from a Retry-After header; an HTTP date or garbage is None."""
    if header is None or not header.strip().isdigit() or len(header.strip()) > 9:
        return None
    return int(header.strip())
