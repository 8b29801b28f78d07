"""chain/http.py: httpx's API over aiohttp, against real loopback sockets."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from waiaas_daemon.chain.http import AiohttpTransport

pytestmark = pytest.mark.anyio

Handler = Callable[[bytes, bytes], bytes | None]


@asynccontextmanager
async def http_server(answer: Handler) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A one-request-at-a-time HTTP/1.1 server: ``answer(head, body)`` gives the raw reply
    (None: never answer). Yields its URL and the request heads it saw."""
    heads: list[bytes] = []
    stalled = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                heads.append(head)
                reply = answer(head, body)
                if reply is None:
                    await stalled.wait()
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/", heads
    finally:
        stalled.set()
        server.close()


def json_reply(payload: object, *, gzipped: bool = False) -> bytes:
    body = json.dumps(payload).encode()
    extra = b""
    if gzipped:
        body, extra = gzip.compress(body), b"Content-Encoding: gzip\r\n"
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def echo(head: bytes, body: bytes) -> bytes:
    return json_reply({"method": json.loads(body)["method"]}, gzipped=b"gzipped" in head)


async def test_requests_share_one_connection_and_answers_are_decoded():
    client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=5)
    async with http_server(echo) as (url, heads), client:
        first = await client.post(url, json={"method": "getBalance"})
        second = await client.post(url, json={"method": "x"}, headers={"X-Mode": "gzipped"})
    assert first.status_code == 200 and first.json() == {"method": "getBalance"}
    assert second.json() == {"method": "x"}  # gzip undone by httpx, as with its own transport
    assert len(heads) == 2 and all(h.startswith(b"POST / HTTP/1.1") for h in heads)


async def test_a_refused_connection_is_httpx_connect_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: refused
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=5) as client:
            with pytest.raises(httpx.ConnectError) as caught:
                await client.post(f"http://127.0.0.1:{port}/", json={})
    assert str(port) not in str(caught.value)  # the text names no URL


async def test_an_answer_that_never_comes_is_httpx_read_timeout():
    client = httpx.AsyncClient(transport=AiohttpTransport(), timeout=0.05)
    async with http_server(lambda head, body: None) as (url, _), client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(url, json={})


async def test_a_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch):
    """As httpx's own transport does: HTTP_PROXY carries the request (absolute form)."""
    async with http_server(echo) as (proxy, heads):
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with httpx.AsyncClient(transport=AiohttpTransport(), timeout=5) as client:
            answer = await client.post("http://node.invalid/rpc", json={"method": "m"})
    assert answer.json() == {"method": "m"}
    assert heads[0].startswith(b"POST http://node.invalid/rpc HTTP/1.1")
