"""The baseline server: bare Starlette + uvicorn answering the daemon's JSON, nothing else.

No middleware, no auth, no storage: what is left is the HTTP floor that the
daemon's routes stand on. uvicorn runs with the daemon's own options (see
waiaas_daemon/serving/server.py) and the same HTTP parser and event loop (--http,
--loop, as ``waiaas-daemon serve`` takes them), on a socket bound the same way.

    python benchmarks/bare_app.py --body '{"walletId": ...}' --http httptools --loop uvloop
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import uuid
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def create_app(address_body: dict[str, Any]) -> Starlette:
    async def address(request: Request) -> JSONResponse:
        return JSONResponse(address_body)

    async def create_session(request: Request) -> JSONResponse:
        body = await request.json()
        session = {
            "id": str(uuid.uuid4()),
            "token": "wai_sess_" + "x" * 200,
            "expiresAt": 0,
            "walletId": body["walletId"],
        }
        return JSONResponse(session, status_code=201)

    async def renew(request: Request) -> JSONResponse:
        renewed = {
            "id": request.path_params["id"],
            "token": "wai_sess_" + "x" * 200,
            "expiresAt": 0,
            "renewalCount": 1,
            "maxRenewals": 30,
            "absoluteExpiresAt": 0,
        }
        return JSONResponse(renewed)

    return Starlette(
        routes=[
            Route("/v1/wallet/address", address, methods=["GET"]),
            Route("/v1/sessions", create_session, methods=["POST"]),
            Route("/v1/sessions/{id}/renew", renew, methods=["PUT"]),
        ]
    )


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        host, port = sockets[0].getsockname()[:2] if sockets else ("?", 0)
        print(f"bare listening on http://{host}:{port}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--body", default="{}", help="JSON answered by GET /v1/wallet/address")
    parser.add_argument("--http", choices=["httptools", "h11"], default="httptools")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    # As waiaas_daemon.serving.cli.bind_socket does: getaddrinfo gives proto IPPROTO_TCP, which
    # asyncio needs to see before it sets TCP_NODELAY (with proto 0, Nagle's algorithm
    # and delayed ACKs add 40 ms to every keep-alive request).
    family, kind, proto, _, address = socket.getaddrinfo("127.0.0.1", 0, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.setblocking(False)
    config = uvicorn.Config(
        create_app(json.loads(args.body)),
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
        ws="none",
        http=args.http,
        loop=args.loop,
    )
    print(f"bare: serving with {args.http} on {args.loop}", file=sys.stderr, flush=True)
    _Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
