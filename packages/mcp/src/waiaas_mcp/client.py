"""ApiClient: the daemon's REST API called with the session's token, every answer classified.

Each call returns one of Ok, Expired, NetworkError or ApiError (``waiaas_core.agent.api``,
whose ``Api`` this implements); the tools shape those in ``waiaas_core.agent.results``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waiaas_core.agent.api import (
    DEFAULT_TIMEOUT,
    SEND_TIMEOUT,
    ApiError,
    ApiResult,
    Expired,
    NetworkError,
    Ok,
    classify,
    retry_after,
)
from waiaas_core.lazy_http import LazyHttp, client_of
from waiaas_mcp.session import SessionManager

if TYPE_CHECKING:
    import httpx

__all__ = [
    "SEND_TIMEOUT",
    "ApiClient",
    "ApiError",
    "ApiResult",
    "Expired",
    "NetworkError",
    "Ok",
    "classify",
    "retry_after",
]

MAX_CACHED_URLS = 64


class ApiClient:
    """Calls the daemon with the current token; after a 401 the session re-checks once."""

    def __init__(
        self, http: httpx.AsyncClient | LazyHttp, session: SessionManager, *, base_url: str
    ) -> None:
        self._http = http
        self._session = session
        self._base_url = base_url
        self._urls: dict[str, httpx.URL] = {}

    async def get(self, path: str, params: dict[str, Any] | None = None) -> ApiResult:
        return await self.request("GET", path, params=params)

    async def post(
        self, path: str, body: dict[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> ApiResult:
        return await self.request("POST", path, json=body, timeout=timeout)

    async def public_get(self, path: str) -> ApiResult:
        """A route without sessionAuth (``/health``, ``/v1/nonce``)."""
        response = await self._send(
            "GET", path, None, params=None, json=None, timeout=DEFAULT_TIMEOUT
        )
        return response if isinstance(response, NetworkError) else classify(response)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ApiResult:
        await self._session.wait_started()
        # A token provisioned since the last poll is used at once.
        token = await self._session.refresh()
        for _attempt in range(2):
            if token is None:
                return self._expired()
            response = await self._send(
                method, path, token, params=params, json=json, timeout=timeout
            )
            if isinstance(response, NetworkError):
                return response
            if response.status_code != 401:
                return classify(response)
            # Revoked, or renewed by a sibling process: the session decides.
            token = await self._session.recheck(token)
        return self._expired()

    async def _send(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
        timeout: float,
    ) -> httpx.Response | NetworkError:
        import httpx  # at the first request: see waiaas_core.lazy_http

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await client_of(self._http).request(
                method, self._url(path), headers=headers, params=params, json=json, timeout=timeout
            )
        except httpx.TransportError as exc:
            return NetworkError(self._unreachable(method, exc))

    def _url(self, path: str) -> httpx.URL:
        """The absolute URL of ``path``, parsed once: httpx's merge with base_url on every
        request is a fifth of a tool call's CPU on the client side."""
        url = self._urls.get(path)
        if url is None:
            import httpx

            url = httpx.URL(self._base_url + path)
            if len(self._urls) < MAX_CACHED_URLS:  # ids make paths unbounded
                self._urls[path] = url
        return url

    def _unreachable(self, method: str, exc: httpx.TransportError) -> str:
        message = (
            f"The waiaas daemon at {self._base_url} is not reachable ({type(exc).__name__}). "
            "Is 'waiaas-daemon serve' running?"
        )
        import httpx

        sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
        if method != "GET" and sent:
            message += (
                " The request may have reached the daemon: check list_transactions before retrying."
            )
        return message

    def _expired(self) -> Expired:
        return Expired(self._session.problem or "The session token is no longer valid.")
