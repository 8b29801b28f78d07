"""`waiaas-daemon x402-demo`: a paid API and its facilitator on the daemon's local chain.

A newcomer's first x402 payment without any outside service: a resource server that
answers 402 with the published x402 requirements (v2 headers, v1 body), and a
facilitator that verifies the payer's transaction as the ``exact`` scheme requires,
co-signs it as fee payer and submits it through the daemon's loopback JSON-RPC
(``/v1/local-rpc``). It also does the owner's side once, through the REST API with the
master password: a wallet to pay from with test USDC, a shop wallet to be paid, and the
wallet's policy allowing exactly this demo's ``host:port``.

A chain is a ``Scheme`` (its offer, its verification and settlement); Solana ``local``
is the one today, so an EVM variant is another class beside it (docs/notes/x402.md).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import httpx
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from waiaas_core.amounts import format_units
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import MEMO_PROGRAM_ID, TOKEN_PROGRAM
from waiaas_daemon.chain.x402 import COMPUTE_BUDGET_PROGRAM
from waiaas_daemon.domain.x402 import NETWORK_IDS

log = logging.getLogger("waiaas.x402-demo")

DEFAULT_PORT = 4021
PAYER_WALLET = "x402-demo"
SHOP_WALLET = "x402-demo-shop"
PAYER_USDC = 5_000_000  # 5 USDC
PRICE = 10_000  # 0.01 USDC
USDC_DECIMALS = 6
FEE_PAYER_SOL = 1_000_000_000
FEE_PAYER_ETH = 10**18
# transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)
TRANSFER_WITH_AUTHORIZATION = bytes.fromhex("cf092995")
CHAINS = ("solana", "evm")


class Rejected(Exception):
    """The payment does not pay what the offer asks: the 402 again, with the reason."""


class Scheme(Protocol):
    """One chain's ``exact`` scheme, as the demo's facilitator settles it."""

    @property
    def network(self) -> str:
        """The x402 v2 (CAIP-2) id."""

    @property
    def v1_network(self) -> str: ...

    async def prepare(self) -> None:
        """Fund the facilitator (it pays the network fees)."""

    def offer(self) -> dict[str, Any]:
        """asset, payTo and extra of the requirements (amount and network are added)."""

    async def settle(self, payload: dict[str, Any], requirement: dict[str, Any]) -> str:
        """Verify the payload against the requirement and settle it: the transaction id."""


class LocalRpc:
    """The daemon's loopback JSON-RPC, as a facilitator calls it."""

    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url

    async def __call__(self, method: str, params: list[Any]) -> Any:
        answer = await self.http.post(
            self.url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        body = answer.json()
        if "error" in body:
            raise Rejected(str(body["error"].get("message", "the chain refused it")))
        return body["result"]


@dataclass
class SolanaLocal:
    """The Solana ``exact`` scheme on the daemon's local chain (SPL Token USDC)."""

    rpc: LocalRpc
    mint: str
    pay_to: str
    program: str
    fee_payer: Keypair
    network: str = NETWORK_IDS["local"][1]
    v1_network: str = NETWORK_IDS["local"][0]

    async def prepare(self) -> None:
        await self.rpc("requestAirdrop", [str(self.fee_payer.pubkey()), FEE_PAYER_SOL])

    def offer(self) -> dict[str, Any]:
        return {
            "asset": self.mint,
            "payTo": self.pay_to,
            "extra": {"feePayer": str(self.fee_payer.pubkey())},
        }

    async def settle(self, payload: dict[str, Any], requirement: dict[str, Any]) -> str:
        tx = self.verify(payload, requirement)
        own = self.fee_payer.sign_message(to_bytes_versioned(tx.message))
        signed = VersionedTransaction.populate(tx.message, [own, *list(tx.signatures)[1:]])
        raw = base64.b64encode(bytes(signed)).decode()
        return str(await self.rpc("sendTransaction", [raw, {"encoding": "base64"}]))

    def verify(self, payload: dict[str, Any], requirement: dict[str, Any]) -> VersionedTransaction:
        """What the scheme requires of the payer's transaction, before co-signing it."""
        try:
            tx = VersionedTransaction.from_bytes(base64.b64decode(payload["transaction"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise Rejected(f"not a transaction: {type(exc).__name__}") from None
        message = tx.message
        keys = [str(k) for k in message.account_keys]
        steps = list(message.instructions)

        def program(i: int) -> str:
            return keys[steps[i].program_id_index]

        compute = str(COMPUTE_BUDGET_PROGRAM)
        _check(3 <= len(steps) <= 6, "3 to 6 instructions")
        _check(program(0) == compute and bytes(steps[0].data)[:1] == b"\x02", "compute limit")
        _check(program(1) == compute and bytes(steps[1].data)[:1] == b"\x03", "compute price")
        transfer = steps[2]
        data = bytes(transfer.data)
        _check(program(2) == self.program and data[:1] == b"\x0c", "one TransferChecked")
        accounts = [keys[i] for i in bytes(transfer.accounts)]
        _check(len(accounts) >= 4, "TransferChecked accounts")
        _source, mint, destination, authority = accounts[:4]
        _check(mint == requirement["asset"], "the asset")
        wanted = spl.associated_address(requirement["payTo"], mint, self.program)
        _check(destination == str(wanted), "payTo's token account")
        _check(int.from_bytes(data[1:9], "little") == int(requirement["amount"]), "the amount")
        _check(keys[0] == str(self.fee_payer.pubkey()), "the facilitator as fee payer")
        _check(authority != keys[0], "the fee payer is not the authority")
        for i in range(3, len(steps)):
            _check(program(i) == str(MEMO_PROGRAM_ID), "only memos after the transfer")
        return tx


@dataclass
class EvmLocal:
    """The EVM ``exact`` scheme on the daemon's embedded EVM (evm-local, its test USDC):
    the payer's EIP-3009 authorization, submitted as ``transferWithAuthorization`` from
    the facilitator's account through ``/v1/local-rpc/evm-local``."""

    rpc: LocalRpc
    usdc: str
    pay_to: str
    chain_id: int
    facilitator: Any  # eth-account LocalAccount
    name: str = "USD Coin"  # the test USDC's EIP-712 domain, as Circle's
    version: str = "2"

    @property
    def network(self) -> str:
        return f"eip155:{self.chain_id}"

    @property
    def v1_network(self) -> str:
        return self.network

    async def prepare(self) -> None:
        await self.rpc("waiaas_requestAirdrop", [self.facilitator.address, FEE_PAYER_ETH])

    def offer(self) -> dict[str, Any]:
        return {
            "asset": self.usdc,
            "payTo": self.pay_to,
            "extra": {"name": self.name, "version": self.version},
        }

    async def settle(self, payload: dict[str, Any], requirement: dict[str, Any]) -> str:
        from eth_abi import encode

        wire = await self.verify(payload, requirement)
        data = TRANSFER_WITH_AUTHORIZATION + encode(
            ["address", "address", "uint256", "uint256", "uint256", "bytes32", "bytes"],
            [
                wire.sender,
                wire.to,
                wire.value,
                wire.valid_after,
                wire.valid_before,
                bytes.fromhex(wire.nonce[2:]),
                bytes.fromhex(str(payload["signature"])[2:]),
            ],
        )
        return await self.send(data)

    async def verify(self, payload: dict[str, Any], requirement: dict[str, Any]) -> Any:
        from waiaas_daemon.chain.evm import x402 as exact

        try:
            wire = payload["authorization"]
            authorization = exact.Authorization(
                token=self.usdc,
                chain_id=self.chain_id,
                name=self.name,
                version=self.version,
                sender=str(wire["from"]),
                to=str(wire["to"]),
                value=int(wire["value"]),
                valid_after=int(wire["validAfter"]),
                valid_before=int(wire["validBefore"]),
                nonce=str(wire["nonce"]),
            )
            signer = exact.signer_of(authorization, str(payload["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise Rejected(f"invalid_exact_evm_payload: {type(exc).__name__}") from None
        _check(signer.lower() == authorization.sender.lower(), "the payer's signature")
        _check(requirement["asset"].lower() == self.usdc.lower(), "the asset")
        _check(authorization.to.lower() == self.pay_to.lower(), "payTo")
        _check(authorization.value == int(requirement["amount"]), "the amount")
        block = await self.rpc("eth_getBlockByNumber", ["latest", False])
        now = int(block["timestamp"], 16)
        _check(authorization.valid_after <= now < authorization.valid_before, "the window")
        return authorization

    async def send(self, data: bytes) -> str:
        """A transaction of the facilitator to the token, mined (evm-local automines)."""
        from eth_account import Account

        sender = self.facilitator.address
        nonce = int(await self.rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        block = await self.rpc("eth_getBlockByNumber", ["latest", False])
        call = {"from": sender, "to": self.usdc, "data": "0x" + data.hex()}
        gas = int(await self.rpc("eth_estimateGas", [call]), 16)
        tip = 10**9
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": self.usdc,
            "value": 0,
            "data": data,
            "gas": gas,
            "maxPriorityFeePerGas": tip,
            "maxFeePerGas": 2 * int(block["baseFeePerGas"], 16) + tip,
        }
        signed = Account.sign_transaction(tx, self.facilitator.key)
        tx_hash = str(
            await self.rpc("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
        )
        receipt = await self.rpc("eth_getTransactionReceipt", [tx_hash])
        _check(receipt is not None and receipt.get("status") == "0x1", "the settlement")
        return tx_hash


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise Rejected(f"invalid_exact_payload: {what}")


class Shop:
    """The paid resource: ``GET /report`` (x402 v2) and ``GET /v1/report`` (v1)."""

    def __init__(self, scheme: Scheme, price: int) -> None:
        self.scheme = scheme
        self.price = price
        self.url = ""
        self.sold = 0

    def requirement(self, version: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "scheme": "exact",
            "network": self.scheme.network if version == 2 else self.scheme.v1_network,
            "maxTimeoutSeconds": 60,
            **self.scheme.offer(),
        }
        if version == 2:
            entry["amount"] = str(self.price)
        else:
            entry.update(
                maxAmountRequired=str(self.price),
                resource=f"{self.url}/v1/report",
                description="Today's numbers",
                mimeType="application/json",
            )
        return entry

    def challenge(self, version: int, error: str = "payment required") -> Response:
        document: dict[str, Any] = {
            "x402Version": version,
            "accepts": [self.requirement(version)],
            "error": error,
        }
        headers = {}
        if version == 2:
            document["resource"] = {"url": f"{self.url}/report", "mimeType": "application/json"}
            encoded = base64.b64encode(json.dumps(document).encode()).decode()
            headers["PAYMENT-REQUIRED"] = encoded
        return JSONResponse(document, status_code=402, headers=headers)

    async def report(self, request: Request) -> Response:
        version = 1 if request.url.path.startswith("/v1/") else 2
        header = request.headers.get("payment-signature" if version == 2 else "x-payment")
        if header is None:
            return self.challenge(version)
        try:
            payment = json.loads(base64.b64decode(header))
            requirement = payment["accepted"] if version == 2 else self.requirement(1)
            if requirement != self.requirement(version) and version == 2:
                raise Rejected("the payment accepts another offer than this resource's")
            settlement = await self.scheme.settle(payment["payload"], requirement)
        except (Rejected, KeyError, TypeError, ValueError) as exc:
            log.warning("payment refused: %s", exc)
            return self.challenge(version, error=str(exc)[:200])
        self.sold += 1
        receipt = {
            "success": True,
            "transaction": settlement,
            "network": requirement["network"],
            "amount": str(self.price),
        }
        name = "PAYMENT-RESPONSE" if version == 2 else "X-PAYMENT-RESPONSE"
        value = base64.b64encode(json.dumps(receipt).encode()).decode()
        body = {"report": "Today's numbers: 42, 7, 1999", "paid": str(self.price)}
        return JSONResponse(body, headers={name: value})

    async def index(self, request: Request) -> Response:
        return JSONResponse(
            {
                "paid": {"url": f"{self.url}/report", "price": str(self.price)},
                "network": self.scheme.network,
                "sold": self.sold,
            }
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self.index),
                Route("/report", self.report),
                Route("/v1/report", self.report),
            ]
        )


# -- the owner's side, through the daemon's REST API -----------------------------------


class Owner:
    """masterAuth calls to the daemon; errors become one clear line."""

    def __init__(self, http: httpx.AsyncClient, password: str) -> None:
        self.http = http
        self.headers = {"X-Master-Password": password}

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        answer = await self.http.request(method, path, headers=headers, **kwargs)
        if answer.status_code >= 400:
            try:
                error = answer.json()
                text = f"{error.get('code')}: {error.get('message')}"
            except ValueError:
                text = f"HTTP {answer.status_code}"
            raise DemoError(f"{method} {path}: {text}")
        return answer.json(), answer.headers

    async def wallet(self, name: str, chain: str = "solana") -> dict[str, Any]:
        listed, _ = await self.call("GET", "/v1/wallets")
        for wallet in listed["items"]:
            if wallet["name"] == name and wallet["status"] != "TERMINATED":
                return dict(wallet)
        made, _ = await self.call("POST", "/v1/wallets", json={"name": name, "chain": chain})
        return dict(made)

    async def airdrop_usdc(self, wallet: dict[str, Any], amount: int) -> None:
        path = f"/v1/wallets/{wallet['id']}/airdrop"
        await self.call("POST", path, json={"amount": str(amount), "token": "USDC"})

    async def allow(self, wallet: dict[str, Any], host: str) -> None:
        """Add ``host`` (exact host:port) to the wallet's x402.allowedHosts; keep the rest."""
        path = f"/v1/wallets/{wallet['id']}/policy"
        view, _ = await self.call("GET", path)
        document = dict(view["policy"])
        x402 = dict(document.get("x402") or {})
        hosts = list(x402.get("allowedHosts") or [])
        if host not in hosts:
            x402["allowedHosts"] = [*hosts, host]
            document["x402"] = x402
            await self.call(
                "PUT", path, json=document, headers={"If-Match": f'"{view["version"]}"'}
            )


class DemoError(Exception):
    """The demo cannot run; the message says why."""


@dataclass
class Prepared:
    shop: Shop
    payer: dict[str, Any]
    merchant: dict[str, Any]


async def prepare(
    http: httpx.AsyncClient, password: str, *, payer_name: str, price: int, chain: str = "solana"
) -> Prepared:
    """The daemon's side: a local chain, the USDC mint, the two wallets, the facilitator."""
    try:
        status = (await http.get("/health")).json()
    except httpx.HTTPError as exc:
        raise DemoError(
            f"no daemon at {http.base_url} ({type(exc).__name__}); start it with: "
            "waiaas-daemon serve"
        ) from None
    if status.get("status") != "ok":
        raise DemoError(f"the daemon at {http.base_url} is not healthy")
    owner = Owner(http, password)
    if chain == "evm":
        return await _prepare_evm(http, owner, payer_name, price)
    admin, _ = await owner.call("GET", "/v1/admin/status")
    if admin.get("network") != "local":
        raise DemoError(
            f"the daemon runs on {admin.get('network')}; the demo settles on the local chain "
            '(start a daemon with network = "local", the default)'
        )
    registry, _ = await owner.call("GET", "/v1/tokens", params={"network": "local"})
    usdc = next((t for t in registry["items"] if t["symbol"] == "USDC"), None)
    if usdc is None:
        raise DemoError("the daemon's local chain has no USDC test mint")
    payer = await owner.wallet(payer_name)
    merchant = await owner.wallet(SHOP_WALLET)
    await owner.airdrop_usdc(payer, PAYER_USDC)
    await owner.airdrop_usdc(merchant, 1)  # its token account exists, as a shop's does
    rpc = LocalRpc(http, "/v1/local-rpc")
    program = usdc.get("tokenProgram") or TOKEN_PROGRAM
    scheme = SolanaLocal(rpc, usdc["mint"], merchant["address"], program, Keypair())
    await scheme.prepare()
    return Prepared(Shop(scheme, price), payer, merchant)


async def _prepare_evm(
    http: httpx.AsyncClient, owner: Owner, payer_name: str, price: int
) -> Prepared:
    """evm-local: the embedded EVM every daemon has (its test USDC is in the registry)."""
    from eth_account import Account

    registry, _ = await owner.call("GET", "/v1/tokens", params={"network": "evm-local"})
    usdc = next((t for t in registry["items"] if t["symbol"] == "USDC"), None)
    if usdc is None:
        raise DemoError("the daemon's evm-local chain has no USDC test token")
    payer = await owner.wallet(payer_name, "evm")
    merchant = await owner.wallet(SHOP_WALLET + "-evm", "evm")
    await owner.airdrop_usdc(payer, PAYER_USDC)
    rpc = LocalRpc(http, "/v1/local-rpc/evm-local")
    chain_id = int(await rpc("eth_chainId", []), 16)
    scheme = EvmLocal(rpc, usdc["mint"], merchant["address"], chain_id, Account.create())
    await scheme.prepare()
    return Prepared(Shop(scheme, price), payer, merchant)


async def run(
    base_url: str,
    password: str,
    *,
    port: int = DEFAULT_PORT,
    payer_name: str = PAYER_WALLET,
    price: int = PRICE,
    chain: str = "solana",
    say: Callable[[str], None] = print,
    ready: Callable[[Prepared], Awaitable[None]] | None = None,
) -> None:
    """Prepare, serve the shop on 127.0.0.1:``port`` until cancelled."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise DemoError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    sock.listen()
    host = f"127.0.0.1:{sock.getsockname()[1]}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as http:
        prepared = await prepare(http, password, payer_name=payer_name, price=price, chain=chain)
        prepared.shop.url = f"http://{host}"
        await Owner(http, password).allow(prepared.payer, host)
        server = uvicorn.Server(
            uvicorn.Config(prepared.shop.app(), log_level="warning", lifespan="off")
        )
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve, [sock])
            while not server.started:
                await anyio.sleep(0.01)
            _tell(say, prepared, host)
            if ready is not None:
                await ready(prepared)
            try:
                await anyio.sleep_forever()
            finally:
                server.should_exit = True
    sock.close()


def _tell(say: Callable[[str], None], prepared: Prepared, host: str) -> None:
    payer = prepared.payer
    price = format_units(prepared.shop.price, USDC_DECIMALS)
    say(f"x402 demo: a paid API at http://{host}/report ({price} USDC a request)")
    say(f"  facilitator: settles on the daemon's local chain ({prepared.shop.scheme.network})")
    say(f"  wallet {payer['name']} ({payer['address']}) holds test USDC and may pay {host}")
    say(f"  next: waiaas mcp setup --wallet {payer['id']} --write-config")
    say(f'  then ask your agent: pay_for_resource(url="http://{host}/report")')
