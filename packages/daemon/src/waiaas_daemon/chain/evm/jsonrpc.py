"""``JsonRpcNode``: Ethereum JSON-RPC 2.0 over httpx, with failover across several URLs.

Each request goes to the first URL that is not resting. A URL that fails with a
transport error (refused, reset, timed out), an HTTP 429 or 5xx, or an answer
that is not JSON-RPC is skipped (it "rests") for ``rest`` seconds and the next
URL is asked; once its rest is over it is tried first again, in the configured
order. When every URL is resting they are all tried anyway (soonest-rested
first) rather than failing at once; when a whole round fails, the node waits
``retry_delays`` and tries again, then raises ``EvmNodeUnavailable``.

A JSON-RPC error answer is the node's answer, not a failure of the URL: it is
raised as ``EvmRpcError`` and no other URL is asked (another node would refuse
the same nonce or revert the same call).

A broadcast (``eth_sendRawTransaction``) that timed out may still have reached
its node; sent again to the next URL it may answer "already known" or "nonce
too low". The caller, which knows the transaction's hash, treats those as sent.

RPC URLs often carry an API key in their path, query or user info: a URL is
only ever logged or named in an error as ``scheme://host[:port]/***``, and
httpx's own request log line is masked the same way.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx

from .node import EvmNodeUnavailable, EvmRpcError

log = logging.getLogger("waiaas.evm.rpc")

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_TIMEOUT = 10.0
# How long a URL that failed is skipped.
DEFAULT_REST = 30.0
# Pauses between whole rounds over every URL (so three rounds by default).
DEFAULT_RETRY_DELAYS = (0.25, 1.0)
FAILOVER_STATUSES = frozenset({408, 425, 429})


def mask_url(url: str) -> str:
    """``scheme://host[:port]``, and ``/***`` when the URL has a path, query or user info.

    The path or query of a provider's URL is often its API key; user info is a
    password. Nothing but the host is kept.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment or parts.username
    return f"{parts.scheme}://{host}{port}" + ("/***" if hidden else "")


class _MaskUrls(logging.Filter):
    """httpx logs each request's full URL at INFO; keep its host only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url(str(a)) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _install_mask() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_MaskUrls())


_install_mask()


class _UrlFailed(Exception):
    """This URL could not answer; the text names no URL."""


class JsonRpcNode:
    """An EVM node reached over HTTP JSON-RPC, with failover across ``urls``.

    ``transport`` replaces httpx's network transport, or ``client`` the whole
    client (then the node does not close it); ``clock`` (monotonic seconds) and
    ``sleep`` let tests move time without waiting.
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        rest: float = DEFAULT_REST,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        transport: httpx.AsyncBaseTransport | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if isinstance(urls, str):
            urls = [urls]
        self._urls = [u.strip() for u in urls if u and u.strip()]
        if not self._urls:
            raise ValueError("an EVM network needs at least one rpc_url")
        for url in self._urls:
            if urlsplit(url).scheme not in ("http", "https"):
                raise ValueError(f"rpc_url must be http(s): {mask_url(url)}")
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, timeout=timeout)
        self._rest = rest
        self._retry_delays = tuple(retry_delays)
        self._clock = clock
        self._sleep = sleep
        self._resting_until = [float("-inf")] * len(self._urls)
        self._ids = itertools.count(1)

    @property
    def endpoints(self) -> list[str]:
        """The URLs, masked: what logs, errors and status pages may show."""
        return [mask_url(u) for u in self._urls]

    def resting(self) -> list[str]:
        """The masked URLs being skipped now."""
        now = self._clock()
        return [
            mask_url(u) for u, t in zip(self._urls, self._resting_until, strict=True) if t > now
        ]

    def _order(self) -> list[int]:
        now = self._clock()
        ready = [i for i, t in enumerate(self._resting_until) if t <= now]
        tired = sorted(
            (i for i, t in enumerate(self._resting_until) if t > now),
            key=lambda i: self._resting_until[i],
        )
        return ready + tired

    async def request(self, method: str, params: list[Any]) -> Any:
        failures: list[str] = []
        for delay in (*self._retry_delays, None):
            for i in self._order():
                try:
                    answer = await self._post(self._urls[i], method, params)
                except _UrlFailed as exc:
                    self._resting_until[i] = self._clock() + self._rest
                    where = mask_url(self._urls[i])
                    failures.append(f"{where}: {exc}")
                    log.warning(
                        "EVM node %s failed on %s (%s); resting %ss", where, method, exc, self._rest
                    )
                    continue
                self._resting_until[i] = float("-inf")
                return answer
            if delay is not None:
                await self._sleep(delay)
        # Name each URL's latest failure once, in configured order.
        latest = {f.split(": ", 1)[0]: f for f in failures}
        raise EvmNodeUnavailable(f"no EVM node answered {method}: " + "; ".join(latest.values()))

    async def _post(self, url: str, method: str, params: list[Any]) -> Any:
        request_id = next(self._ids)
        payload = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            response = await self._client.post(url, json=payload)
        except httpx.TimeoutException as exc:
            raise _UrlFailed(f"timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _UrlFailed(f"unreachable ({type(exc).__name__})") from None
        status = response.status_code
        if status >= 500 or status in FAILOVER_STATUSES:
            raise _UrlFailed(f"HTTP {status}")
        try:
            body = response.json()
        except ValueError:
            raise _UrlFailed(f"HTTP {status}, not JSON") from None
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            raise _UrlFailed(f"HTTP {status}, not a JSON-RPC answer")
        if body.get("id") != request_id:
            raise _UrlFailed("answered another request's id")
        if "error" in body and body["error"] is not None:
            raise EvmRpcError.from_wire(body["error"])
        if status >= 400:
            raise _UrlFailed(f"HTTP {status}")
        return body.get("result")

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
