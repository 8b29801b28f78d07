"""A local HTTP receiver for notification tests: records requests, fails or hangs on demand."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    """Answers 200 unless ``behave(path, request_number_for_this_key)`` says otherwise."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[Received] = []
        self.counts: dict[str, int] = {}
        self.status_for: Callable[[str, dict[str, str], int], int] = lambda path, h, n: 200
        self.hang_paths: set[str] = set()
        self.release = anyio.Event()

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        headers = {k.lower(): v for k, v in request.headers.items()}
        key = f"{path} {headers.get('x-waiaas-event-id', body.decode(errors='replace'))}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if path in self.hang_paths:
            await self.release.wait()
        status = self.status_for(path, headers, self.counts[key])
        self.received.append(Received(path, headers, body, status))
        return JSONResponse({"ok": status == 200}, status_code=status)

    def ok(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path and r.status == 200]


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.handle, methods=["POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="critical", ws="none"))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            try:
                yield receiver
            finally:
                receiver.release.set()
                server.should_exit = True
    finally:
        sock.close()


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """The worker's sleep: time passes at once (backoff without real waits)."""
        self.slept.append(seconds)
        self.now += seconds
        await anyio.sleep(0)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    with anyio.fail_after(timeout):
        while True:
            result = check()
            if hasattr(result, "__await__"):
                result = await result
            if result:
                return result
            await anyio.sleep(0.01)
