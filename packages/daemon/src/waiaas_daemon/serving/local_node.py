"""`waiaas-daemon local-node`: the embedded local chain served as a Solana JSON-RPC node.

Several daemons on one machine (one PostgreSQL database, docs/operations.md)
need one chain they all reach: this serves LiteSVM's ledger (``NodeChain``,
kept in its own SQLite file) at ``POST /`` in Solana's JSON-RPC 2.0, the
methods in ``node_rpc``, plus ``GET /health`` as a validator answers it. It
listens on loopback unless told otherwise, with the daemon's Host guard.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from waiaas_core.limits import MAX_NUMBER_DIGITS, number_digits_ok
from waiaas_daemon.domain.state import StartupError
from waiaas_daemon.serving.middleware import HostGuard
from waiaas_daemon.serving.node_rpc import LocalNode
from waiaas_daemon.serving.server import bind_socket

log = logging.getLogger("waiaas.local_node")

DEFAULT_PORT = 8899  # solana-test-validator's, so tools that assume it find this node
# A Solana node refuses bodies above 50 KiB (agave's MAX_REQUEST_BODY_SIZE) with 413.
MAX_BODY = 50 * 1024


def _float(text: str) -> float:
    if not number_digits_ok(text):
        raise ValueError(f"a number of more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(float_hook=_float)


def node_app(node: LocalNode, *, any_host: bool = False) -> Starlette:
    """The node's ASGI app; ``any_host`` drops the loopback Host guard (``--allow-remote``)."""

    async def rpc(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("Payload Too Large", status_code=413)
        try:
            decoded = _decoder.decode(bytes(body))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            error = {"code": -32700, "message": "Parse error"}
            return _json({"jsonrpc": "2.0", "error": error, "id": None})
        return _json(node.answer(decoded))

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    middleware = [] if any_host else [Middleware(HostGuard)]
    routes = [Route("/", rpc, methods=["POST"]), Route("/health", health, methods=["GET"])]
    return Starlette(routes=routes, middleware=middleware)


def _json(value: Any) -> Response:
    return Response(msgspec.json.encode(value), media_type="application/json")


class _NodeServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, url: str) -> None:
        super().__init__(config)
        self._url = url

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"waiaas-daemon local node listening on {self._url}", file=sys.stderr, flush=True)


async def run_node(ledger: Path, host: str, port: int, *, any_host: bool = False) -> None:
    """Serve the node of ``ledger`` until SIGINT or SIGTERM."""
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    node = LocalNode.open(ledger)
    try:
        bound, got = sock.getsockname()[:2]
        url = f"http://{f'[{bound}]' if ':' in bound else bound}:{got}"
        log.info("ledger %s at slot %d", ledger, node.chain.slot)
        config = uvicorn.Config(
            node_app(node, any_host=any_host),
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            ws="none",
        )
        await _NodeServer(config, url).serve(sockets=[sock])
    finally:
        node.close()
        sock.close()
