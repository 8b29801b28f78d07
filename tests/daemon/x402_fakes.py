"""A loopback x402 resource server and facilitator that settle on the daemon's local chain.

Written from the published x402 specification (v2 headers PAYMENT-REQUIRED /
PAYMENT-SIGNATURE / PAYMENT-RESPONSE, v1 body + X-PAYMENT; the Solana "exact"
scheme), not from the official package (docs/notes/x402.md says why). The
facilitator verifies the payer's transaction as the scheme requires
(compute budget, one TransferChecked of the exact amount of the asset to
``payTo``'s token account, the fee payer its own and not the authority),
co-signs it as fee payer and submits it through the daemon's loopback
JSON-RPC (``POST /v1/local-rpc``), or any JSON-RPC node (``rpc_url``,
``network``, ``wait_confirmed``). ``behaviour`` makes it hostile.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import uvicorn
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_PROGRAM

NETWORK = "solana:localnet"
V1_NETWORK = "solana-localnet"
DEVNET = ("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1", "solana-devnet")
COMPUTE_BUDGET = "ComputeBudget111111111111111111111111111111"
MEMO = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"


@dataclass
class Shop:
    rpc_url: str
    mint: str
    pay_to: str
    price: int
    fee_payer: Keypair = field(default_factory=Keypair)
    url: str = ""
    # honest | again-402 | claim-without-settling | redirect | hang | huge
    behaviour: str = "honest"
    advertised: int | None = None  # what the 402 asks, when it differs from ``price``
    settled: list[str] = field(default_factory=list)
    paid_requests: int = 0
    unpaid_requests: int = 0
    release: anyio.Event = field(default_factory=anyio.Event)
    holding: anyio.Event = field(default_factory=anyio.Event)
    rejections: list[str] = field(default_factory=list)
    http: httpx.AsyncClient | None = None
    # Awaited when an unpaid request arrives, before the 402 answers (a test changes the
    # owner's rules or the kill switch while the daemon waits for the resource).
    on_unpaid: Callable[[], Awaitable[None]] | None = None
    # The chain it settles on, as v2 and v1 name it (the local chain by default; a
    # JSON-RPC devnet such as tests/daemon/fake_rpc_node.py with DEVNET).
    network: str = NETWORK
    v1_network: str = V1_NETWORK
    wait_confirmed: bool = False  # on a JSON-RPC node: settle answers once confirmed
    # Other ways to pay the 402 offers before the shop's own (v2), e.g. Base USDC.
    other_offers: list[dict[str, Any]] = field(default_factory=list)

    def requirements(self, version: int = 2) -> dict[str, Any]:
        amount = str(self.advertised if self.advertised is not None else self.price)
        entry: dict[str, Any] = {
            "scheme": "exact",
            "network": self.network if version == 2 else self.v1_network,
            "asset": self.mint,
            "payTo": self.pay_to,
            "maxTimeoutSeconds": 60,
            "extra": {"feePayer": str(self.fee_payer.pubkey())},
        }
        if version == 2:
            entry["amount"] = amount
        else:
            entry.update(
                maxAmountRequired=amount,
                resource=f"{self.url}/v1/report",
                description="a report",
                mimeType="application/json",
            )
        return entry

    # -- the facilitator -----------------------------------------------------

    async def rpc(self, method: str, params: list[Any]) -> Any:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10)
        answer = await self.http.post(
            self.rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        body = answer.json()
        if "error" in body:
            raise RuntimeError(body["error"]["message"])
        return body["result"]

    def verify(self, transaction_b64: str, requirement: dict[str, Any]) -> VersionedTransaction:
        tx = VersionedTransaction.from_bytes(base64.b64decode(transaction_b64))
        message = tx.message
        keys = [str(k) for k in message.account_keys]
        instructions = message.instructions
        assert 3 <= len(instructions) <= 6, "instruction count"
        assert keys[instructions[0].program_id_index] == COMPUTE_BUDGET
        assert bytes(instructions[0].data)[0] == 2
        assert keys[instructions[1].program_id_index] == COMPUTE_BUDGET
        assert bytes(instructions[1].data)[0] == 3
        transfer = instructions[2]
        assert keys[transfer.program_id_index] == TOKEN_PROGRAM
        data = bytes(transfer.data)
        assert data[0] == 12, "not TransferChecked"
        _source, mint, dest, authority = (keys[i] for i in bytes(transfer.accounts)[:4])
        assert mint == requirement["asset"], "mint"
        assert dest == str(spl.associated_address(requirement["payTo"], mint, TOKEN_PROGRAM))
        amount = int.from_bytes(data[1:9], "little")
        assert amount == int(requirement.get("amount") or requirement["maxAmountRequired"])
        assert keys[0] == str(self.fee_payer.pubkey()), "fee payer"
        assert authority != keys[0], "the fee payer must not be the authority"
        for extra in instructions[3:]:
            assert keys[extra.program_id_index] == MEMO, "unknown instruction"
        return tx

    async def settle(self, tx: VersionedTransaction) -> str:
        own = self.fee_payer.sign_message(to_bytes_versioned(tx.message))
        signed = VersionedTransaction.populate(tx.message, [own, *list(tx.signatures)[1:]])
        raw = base64.b64encode(bytes(signed)).decode()
        signature = await self.rpc("sendTransaction", [raw, {"encoding": "base64"}])
        if self.wait_confirmed:
            # As a facilitator's /settle does on a cluster: answer once it is confirmed.
            with anyio.fail_after(30):
                while True:
                    [seen] = (await self.rpc("getSignatureStatuses", [[signature]]))["value"]
                    if seen and seen.get("confirmationStatus") in ("confirmed", "finalized"):
                        break
                    await anyio.sleep(0.02)
        self.settled.append(signature)
        return signature

    # -- the resource server ---------------------------------------------------

    async def report(self, request: Request) -> Response:
        version = 1 if request.url.path.startswith("/v1/") else 2
        header = request.headers.get("payment-signature" if version == 2 else "x-payment")
        if header is None:
            self.unpaid_requests += 1
            if self.on_unpaid is not None:
                await self.on_unpaid()
            return self.challenge(version)
        self.paid_requests += 1
        payload = json.loads(base64.b64decode(header))
        requirement = payload["accepted"] if version == 2 else self.requirements(1)
        try:
            tx = self.verify(payload["payload"]["transaction"], requirement)
        except AssertionError as exc:
            self.rejections.append(str(exc))
            return self.challenge(version, error="invalid_exact_svm_payload")
        if self.behaviour == "claim-without-settling":
            return self.paid(version, "1" * 88)
        if self.behaviour == "hang-before-settling":
            self.holding.set()
            await self.release.wait()
            try:
                await self.settle(tx)
            except RuntimeError as exc:
                self.rejections.append(str(exc))
            return self.challenge(version, error="settlement failed")
        if self.behaviour == "redirect":
            await self.settle(tx)
            return RedirectResponse("http://127.0.0.2:9/elsewhere", status_code=302)
        signature = await self.settle(tx)
        if self.behaviour == "again-402":
            return self.challenge(version, error="payment not recognised")
        if self.behaviour == "hang":
            self.holding.set()
            await self.release.wait()
        if self.behaviour == "huge":
            return Response(b"x" * (2 * 1024 * 1024), media_type="text/plain")
        return self.paid(version, signature)

    def challenge(self, version: int, error: str | None = None) -> Response:
        document: dict[str, Any] = {
            "x402Version": version,
            "accepts": [*(self.other_offers if version == 2 else []), self.requirements(version)],
            "error": error or "payment required",
        }
        headers = {}
        if version == 2:
            document["resource"] = {"url": f"{self.url}/report", "mimeType": "application/json"}
            headers["PAYMENT-REQUIRED"] = base64.b64encode(json.dumps(document).encode()).decode()
        return JSONResponse(document, status_code=402, headers=headers)

    def paid(self, version: int, signature: str) -> Response:
        receipt = {
            "success": True,
            "transaction": signature,
            "network": self.network if version == 2 else self.v1_network,
            "amount": str(self.price),
        }
        name = "PAYMENT-RESPONSE" if version == 2 else "X-PAYMENT-RESPONSE"
        value = base64.b64encode(json.dumps(receipt).encode()).decode()
        return JSONResponse({"report": "the numbers", "price": self.price}, headers={name: value})

    async def free(self, request: Request) -> Response:
        return Response("free text", media_type="text/plain")

    async def hop(self, request: Request) -> Response:
        """A redirect to wherever ``?to=`` says (a resource steering the daemon elsewhere)."""
        return RedirectResponse(request.query_params["to"], status_code=302)


@asynccontextmanager
async def running_shop(shop: Shop) -> AsyncIterator[Shop]:
    """The shop on a loopback port; the fee payer funded through the local JSON-RPC."""
    app = Starlette(
        routes=[
            Route("/report", shop.report, methods=["GET", "POST"]),
            Route("/v1/report", shop.report, methods=["GET"]),
            Route("/free", shop.free),
            Route("/hop", shop.hop),
        ]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    shop.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        await shop.rpc("requestAirdrop", [str(shop.fee_payer.pubkey()), 1_000_000_000])
        try:
            yield shop
        finally:
            shop.release.set()
            server.should_exit = True
            if shop.http is not None:
                await shop.http.aclose()
    sock.close()
