"""A loopback x402 resource server and facilitator for the ``exact`` scheme on EVM networks.

Written from the published x402 specification (v2: PAYMENT-REQUIRED / PAYMENT-SIGNATURE
/ PAYMENT-RESPONSE; the EVM ``exact`` payload ``{signature, authorization}``): the
facilitator recovers the EIP-712 signer of the EIP-3009 authorization, checks it pays
exactly the price of the asset to ``payTo`` within its validity window, and submits
``transferWithAuthorization`` from its own funded account on any ``EvmNode`` (anvil over
JSON-RPC, or the daemon's embedded node in-process). ``behaviour`` makes it hostile.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import uvicorn
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support import evm
from waiaas_daemon.chain.evm import x402 as exact
from waiaas_daemon.chain.evm.node import EvmNode

TRANSFER_AUTH_BYTES = (
    "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
)


@dataclass
class EvmShop:
    node: EvmNode
    chain_id: int
    usdc: str
    pay_to: str
    price: int
    facilitator_key: str
    url: str = ""
    # honest | again-402 | claim-without-settling | hang | hang-before-settling
    behaviour: str = "honest"
    name: str = "USD Coin"
    version: str = "2"
    settled: list[str] = field(default_factory=list)
    paid_requests: int = 0
    unpaid_requests: int = 0
    rejections: list[str] = field(default_factory=list)
    release: anyio.Event = field(default_factory=anyio.Event)
    holding: anyio.Event = field(default_factory=anyio.Event)

    @property
    def network(self) -> str:
        return f"eip155:{self.chain_id}"

    def requirements(self) -> dict[str, Any]:
        return {
            "scheme": "exact",
            "network": self.network,
            "amount": str(self.price),
            "asset": self.usdc,
            "payTo": self.pay_to,
            "maxTimeoutSeconds": 60,
            "extra": {"name": self.name, "version": self.version},
        }

    # -- the facilitator ---------------------------------------------------------

    async def verify(self, payload: dict[str, Any], requirement: dict[str, Any]) -> None:
        wire = payload["authorization"]
        authorization = exact.Authorization(
            token=requirement["asset"],
            chain_id=self.chain_id,
            name=requirement["extra"]["name"],
            version=requirement["extra"]["version"],
            sender=wire["from"],
            to=wire["to"],
            value=int(wire["value"]),
            valid_after=int(wire["validAfter"]),
            valid_before=int(wire["validBefore"]),
            nonce=wire["nonce"],
        )
        signer = exact.signer_of(authorization, payload["signature"])
        assert signer.lower() == wire["from"].lower(), "signature"
        assert wire["to"].lower() == requirement["payTo"].lower(), "payTo"
        assert int(wire["value"]) == int(requirement["amount"]), "amount"
        block = await self.node.request("eth_getBlockByNumber", ["latest", False])
        now = int(block["timestamp"], 16)
        assert int(wire["validAfter"]) <= now < int(wire["validBefore"]), "window"
        assert int(wire["validBefore"]) - now <= 3600, "a short validBefore"

    async def settle(self, payload: dict[str, Any]) -> str:
        wire = payload["authorization"]
        data = evm.calldata(
            TRANSFER_AUTH_BYTES,
            wire["from"],
            wire["to"],
            int(wire["value"]),
            int(wire["validAfter"]),
            int(wire["validBefore"]),
            bytes.fromhex(wire["nonce"][2:]),
            bytes.fromhex(payload["signature"][2:]),
        )
        receipt = await evm.send(self.node, self.facilitator_key, to=self.usdc, data=data)
        assert receipt["status"] == "0x1", receipt
        self.settled.append(str(receipt["transactionHash"]))
        return str(receipt["transactionHash"])

    # -- the resource server ---------------------------------------------------------

    async def report(self, request: Request) -> Response:
        header = request.headers.get("payment-signature")
        if header is None:
            self.unpaid_requests += 1
            return self.challenge()
        self.paid_requests += 1
        document = json.loads(base64.b64decode(header))
        requirement = document["accepted"]
        try:
            await self.verify(document["payload"], requirement)
        except (AssertionError, KeyError, ValueError) as exc:
            self.rejections.append(str(exc))
            return self.challenge(error="invalid_exact_evm_payload")
        if self.behaviour == "claim-without-settling":
            return self.paid("0x" + "11" * 32)
        if self.behaviour == "hang-before-settling":
            self.holding.set()
            await self.release.wait()
            await self.settle(document["payload"])
            return self.challenge(error="settled too late")
        transaction = await self.settle(document["payload"])
        if self.behaviour == "again-402":
            return self.challenge(error="payment not recognised")
        if self.behaviour == "hang":
            self.holding.set()
            await self.release.wait()
        return self.paid(transaction)

    def challenge(self, error: str = "payment required") -> Response:
        document = {
            "x402Version": 2,
            "accepts": [self.requirements()],
            "error": error,
            "resource": {"url": f"{self.url}/report", "mimeType": "application/json"},
        }
        encoded = base64.b64encode(json.dumps(document).encode()).decode()
        return JSONResponse(document, status_code=402, headers={"PAYMENT-REQUIRED": encoded})

    def paid(self, transaction: str) -> Response:
        receipt = {"success": True, "transaction": transaction, "network": self.network}
        value = base64.b64encode(json.dumps(receipt).encode()).decode()
        body = {"report": "the numbers", "price": self.price}
        return JSONResponse(body, headers={"PAYMENT-RESPONSE": value})


def facilitator_key() -> tuple[str, str]:
    account = Account.create()
    return account.key.hex(), account.address


@asynccontextmanager
async def running_evm_shop(shop: EvmShop) -> AsyncIterator[EvmShop]:
    app = Starlette(routes=[Route("/report", shop.report, methods=["GET", "POST"])])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    shop.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        try:
            yield shop
        finally:
            shop.release.set()
            server.should_exit = True
    sock.close()
