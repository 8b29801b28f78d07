"""An HTTP client made at its first request.

Building an ``httpx.AsyncClient`` pulls in httpcore, h11, h2, the ssl module's
context, certifi and, when installed, trio (httpcore's lock backend). waiaas-mcp's
``initialize`` and ``tools/list`` never talk to the daemon, so none of it runs before
they are answered (``tests/mcp/test_cold_start.py``); the daemon's notification
worker makes its client at the first delivery, not at every start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


class LazyHttp:
    """Calling it returns the one ``httpx.AsyncClient``, made by ``factory`` on first use."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient]) -> None:
        self._factory = factory
        self._client: httpx.AsyncClient | None = None
        self._closed = False

    @property
    def created(self) -> bool:
        return self._client is not None

    def __call__(self) -> httpx.AsyncClient:
        client = self._client
        if client is None:
            if self._closed:
                raise RuntimeError("the HTTP client is closed")
            client = self._client = self._factory()
        return client

    async def aclose(self) -> None:
        """Close the client if one was made; none is made afterwards."""
        self._closed = True
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> LazyHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def client_of(http: httpx.AsyncClient | LazyHttp) -> httpx.AsyncClient:
    """The client itself, made now if ``http`` is lazy."""
    return http() if isinstance(http, LazyHttp) else http
