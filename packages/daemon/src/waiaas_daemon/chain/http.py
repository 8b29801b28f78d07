"""httpx's client API over aiohttp's connections: the network transport of chain clients.

A send makes four JSON-RPC calls to its node. With httpx's own transport
(httpcore, h11, anyio) each call cost about 2 ms of the daemon's CPU on the
benchmark machine; with aiohttp underneath, about half of that
(docs/benchmarks.md, "Sends per second"). Everything above the transport
(requests, responses, timeouts, the tests' ``httpx.MockTransport``) stays httpx.

aiohttp is imported at the first request, so a daemon on the embedded
``local`` chain never loads it. Errors come out as httpx's: a connection that
cannot be made is ``ConnectError``, a timeout ``ReadTimeout`` or
``ConnectTimeout``, anything else aiohttp raises about the connection
``ReadError``; their text names no URL.
"""

from __future__ import annotations

from typing import Any

import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its connection pool), opened at the first request.

    A proxy comes from the environment (``HTTPS_PROXY``, ``NO_PROXY`` ...) as with
    httpx's own transport, read once per scheme and host: aiohttp's ``trust_env``
    would also look for a ``.netrc`` on a worker thread at every request, which
    httpx does not do. TLS is verified with httpx's default context.
    """

    def __init__(self) -> None:
        self._session: Any = None
        self._proxies: dict[str, tuple[Any, Any]] = {}

    def _open(self) -> Any:
        import aiohttp

        connector = aiohttp.TCPConnector(ssl=httpx.create_ssl_context(), limit=100)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def _proxy(self, url: httpx.URL) -> tuple[Any, Any]:
        """(proxy URL, its credentials) for ``url``, or (None, None)."""
        key = f"{url.scheme}://{url.host}"
        if key not in self._proxies:
            from aiohttp.helpers import get_env_proxy_for_url
            from yarl import URL

            try:
                self._proxies[key] = get_env_proxy_for_url(URL(key))
            except LookupError:
                self._proxies[key] = (None, None)
        return self._proxies[key]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import aiohttp

        session = self._session or self._open()
        proxy, proxy_auth = self._proxy(request.url)
        timeout = request.extensions.get("timeout", {})
        limits = aiohttp.ClientTimeout(
            total=None,
            connect=timeout.get("pool"),
            sock_connect=timeout.get("connect"),
            sock_read=timeout.get("read"),
        )
        try:
            async with session.request(
                request.method,
                str(request.url),
                headers=list(request.headers.multi_items()),
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=limits,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                body = await response.read()
                headers = list(response.raw_headers)
                status = response.status
        except aiohttp.ConnectionTimeoutError:
            raise httpx.ConnectTimeout("connecting timed out", request=request) from None
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise httpx.ReadTimeout("the answer timed out", request=request) from None
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(type(exc).__name__, request=request) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(type(exc).__name__, request=request) from None
        # The body is read whole (JSON-RPC answers are small); httpx decodes it as usual.
        return httpx.Response(status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
