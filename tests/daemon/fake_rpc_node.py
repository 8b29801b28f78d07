"""A Solana JSON-RPC node for tests: LiteSVM behind a Starlette app on a loopback port.

It answers getBalance, getLatestBlockhash, sendTransaction (with preflight),
getSignatureStatuses, requestAirdrop, getAccountInfo (base64),
getTokenAccountsByOwner (jsonParsed or base64, by programId or mint),
getMinimumBalanceForRentExemption, and for transactions landed with
``land_versioned`` getSignaturesForAddress, getTransaction (base64) and
isBlockhashValid, in the shapes of Solana's published JSON-RPC
reference, records every request body, and plays scripted faults (HTTP
statuses, JSON-RPC errors, stalls) so retry paths can be exercised. Test mints
and token balances are made with ``create_mint`` and ``mint_to``.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
import solders.transaction_status as ts
import uvicorn
from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import TransactionMetadata
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, TOKEN_PROGRAMS

API_VERSION = "2.2.0"
LAST_VALID_OFFSET = 150


@dataclass(frozen=True)
class HttpStatus:
    """Answer with this HTTP status and a text body, or a JSON one as public RPCs do on 429."""

    status: int
    body: str = "Service Unavailable"
    json: Any = None


@dataclass(frozen=True)
class RpcFault:
    """Answer HTTP 200 with this JSON-RPC error object."""

    code: int
    message: str
    data: Any = None


@dataclass(frozen=True)
class Stall:
    """Hold the request until the node is closed (the client times out first)."""


@dataclass(frozen=True)
class Delay:
    """Answer normally, ``seconds`` later (a slow node: widens the window of a race)."""

    seconds: float


@dataclass(frozen=True)
class Hook:
    """Run ``fn`` (blocking, in a worker thread) first, then answer normally: something
    happens in the world between a request and its answer (the daemon's database stops)."""

    fn: Callable[[], Any]


Fault = HttpStatus | RpcFault | Stall | Delay | Hook


@dataclass
class _Landed:
    slot: int
    err: Any
    polls: int = 0


class FakeSolanaNode:
    """The node's state: a LiteSVM ledger, its signatures, the requests seen, faults to play."""

    def __init__(self, *, confirm_after_polls: int = 1) -> None:
        # Blockhashes are checked here, not by LiteSVM, which accepts only its latest.
        self.svm = LiteSVM().with_blockhash_check(False)
        self.confirm_after_polls = confirm_after_polls
        self.requests: list[dict[str, Any]] = []
        self.slot = 1
        self._valid: set[Hash] = {self.svm.latest_blockhash()}
        self._landed: dict[str, _Landed] = {}
        self._bytes: dict[str, bytes] = {}  # landed with land_versioned
        self._history: defaultdict[str, list[str]] = defaultdict(list)  # address -> signatures
        self._faults: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self._released = anyio.Event()

    # -- test controls --------------------------------------------------------

    def fail(self, method: str, *faults: Fault) -> None:
        """The next requests for ``method`` ("*" for any) meet these faults, in order."""
        self._faults[method].extend(faults)

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [body for body in self.requests if body.get("method") == method]

    def advance(self) -> None:
        """A new slot with a new blockhash, as a cluster makes every 400 ms."""
        self.svm.expire_blockhash()
        self._valid.add(self.svm.latest_blockhash())
        self.slot += 1

    def expire_blockhashes(self) -> None:
        """Every blockhash handed out so far is now too old."""
        self._valid.clear()
        self.advance()

    def fund(self, address: Pubkey, lamports: int) -> None:
        assert isinstance(self.svm.airdrop(address, lamports), TransactionMetadata)
        self.advance()

    def land(self, tx: Transaction) -> str:
        """Execute a transaction without preflight, as ``skipPreflight: true`` would."""
        result = self.svm.send_transaction(tx)
        return self._record(tx.signatures[0], result)

    def land_versioned(self, tx: VersionedTransaction) -> str:
        """Execute a (v0) transaction someone else submitted, kept for the history methods."""
        result = self.svm.send_transaction(tx)
        signature = str(tx.signatures[0])
        self._bytes[signature] = bytes(tx)
        for key in tx.message.account_keys:
            self._history[str(key)].append(signature)
        return self._record(tx.signatures[0], result)

    def release(self) -> None:
        self._released.set()

    def create_mint(
        self,
        authority: Keypair,
        decimals: int,
        program: str = TOKEN_PROGRAM,
        transfer_fee: tuple[int, int] | None = None,
    ) -> str:
        """A new mint whose mint authority (and rent payer) is ``authority``, funded here."""
        mint = Keypair()
        self.fund(authority.pubkey(), 10**9)
        rent = self.svm.minimum_balance_for_rent_exemption(
            spl.mint_size(program, transfer_fee is not None)
        )
        instructions = spl.create_mint_instructions(
            authority.pubkey(),
            mint.pubkey(),
            authority.pubkey(),
            decimals,
            program,
            rent,
            transfer_fee,
        )
        tx = Transaction(
            [authority, mint],
            Message(instructions, authority.pubkey()),
            self.svm.latest_blockhash(),
        )
        self._land_ok(tx)
        return str(mint.pubkey())

    def mint_to(self, authority: Keypair, owner: Pubkey, mint: str, amount: int) -> None:
        """Mint to the owner's associated token account, creating it; the authority pays."""
        account = self.svm.get_account(Pubkey.from_string(mint))
        assert account is not None, "no such mint"
        program = str(account.owner)
        instructions = spl.mint_to_instructions(
            authority.pubkey(), owner, Pubkey.from_string(mint), authority.pubkey(), amount, program
        )
        message = Message(instructions, authority.pubkey())
        self._land_ok(Transaction([authority], message, self.svm.latest_blockhash()))

    def _land_ok(self, tx: Transaction) -> None:
        signature = self.land(tx)
        assert self._landed[signature].err is None, self._landed[signature].err

    # -- JSON-RPC -------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        fault = self._next_fault(body.get("method", ""))
        if isinstance(fault, Stall):
            await self._released.wait()
            return Response(status_code=504)
        if isinstance(fault, Delay):
            await anyio.sleep(fault.seconds)
        if isinstance(fault, Hook):
            await anyio.to_thread.run_sync(fault.fn)
        if isinstance(fault, HttpStatus) and fault.json is not None:
            return JSONResponse(fault.json, status_code=fault.status)
        if isinstance(fault, HttpStatus):
            return Response(fault.body, status_code=fault.status, media_type="text/plain")
        if isinstance(fault, RpcFault):
            return _error(body, fault.code, fault.message, fault.data)
        method = getattr(self, f"rpc_{body.get('method')}", None)
        if method is None:
            return _error(body, -32601, "Method not found")
        try:
            return _result(body, method(*body.get("params", [])))
        except _Rejected as exc:
            return _error(body, exc.code, exc.message, exc.data)

    def rpc_getBalance(self, address: str, config: dict[str, Any] | None = None) -> Any:
        return self._context(self.svm.get_balance(_pubkey(address)) or 0)

    def rpc_getLatestBlockhash(self, config: dict[str, Any] | None = None) -> Any:
        value = {
            "blockhash": str(self.svm.latest_blockhash()),
            "lastValidBlockHeight": self.slot + LAST_VALID_OFFSET,
        }
        return self._context(value)

    def rpc_sendTransaction(self, encoded: str, config: dict[str, Any] | None = None) -> Any:
        config = config or {}
        if config.get("encoding") != "base64":  # the default is base58: this would not decode
            raise _Rejected(-32602, "invalid transaction: expected base64 per config")
        try:
            raw = base64.b64decode(encoded, validate=True)
            # A v0 message (an x402 payment's) marks its first byte; legacy ones do not.
            versioned = len(raw) > 1 + 64 * raw[0] and raw[1 + 64 * raw[0]] & 0x80
            tx = (VersionedTransaction if versioned else Transaction).from_bytes(raw)
        except (ValueError, IndexError) as exc:
            raise _Rejected(-32602, f"invalid transaction: {exc}") from None
        signature = str(tx.signatures[0])
        if signature in self._landed:
            self._preflight_failure("AlreadyProcessed", [])
        if tx.message.recent_blockhash not in self._valid:
            self._preflight_failure("BlockhashNotFound", [])
        if not config.get("skipPreflight"):
            simulated = self.svm.simulate_transaction(tx)
            if not hasattr(simulated, "post_accounts"):
                self._preflight_failure(error_json(simulated.err()), simulated.meta().logs())
        return self.land(tx)

    def rpc_getSignatureStatuses(
        self, signatures: list[str], config: dict[str, Any] | None = None
    ) -> Any:
        return self._context([self._status(signature) for signature in signatures])

    def rpc_getSignaturesForAddress(
        self, address: str, config: dict[str, Any] | None = None
    ) -> Any:
        limit = (config or {}).get("limit", 1000)
        newest_first = list(reversed(self._history.get(address, [])))[:limit]
        return [
            {
                "signature": signature,
                "slot": self._landed[signature].slot,
                "err": self._landed[signature].err,
                "memo": None,
                "blockTime": None,
                "confirmationStatus": "confirmed",
            }
            for signature in newest_first
        ]

    def rpc_getTransaction(self, signature: str, config: dict[str, Any] | None = None) -> Any:
        if (config or {}).get("encoding") != "base64":
            raise _Rejected(-32602, "Invalid params: only base64 is served here")
        raw = self._bytes.get(signature)
        if raw is None:
            return None
        landed = self._landed[signature]
        return {
            "slot": landed.slot,
            "blockTime": None,
            "version": 0,
            "transaction": [base64.b64encode(raw).decode(), "base64"],
            "meta": {"err": landed.err, "fee": 5000, "logMessages": []},
        }

    def rpc_isBlockhashValid(self, blockhash: str, config: dict[str, Any] | None = None) -> Any:
        return self._context(Hash.from_string(blockhash) in self._valid)

    def rpc_requestAirdrop(
        self, address: str, lamports: int, config: dict[str, Any] | None = None
    ) -> Any:
        result = self.svm.airdrop(_pubkey(address), lamports)
        meta = result if isinstance(result, TransactionMetadata) else result.meta()
        return self._record(meta.signature(), result)

    def rpc_getAccountInfo(self, address: str, config: dict[str, Any] | None = None) -> Any:
        encoding = (config or {}).get("encoding", "base58")
        if encoding != "base64":  # base58 and jsonParsed exist too; nothing here asks for them
            raise _Rejected(-32602, f"Invalid params: unsupported encoding {encoding!r} here")
        account = self.svm.get_account(_pubkey(address))
        return self._context(None if account is None else _account_json(account, encoding))

    def rpc_getTokenAccountsByOwner(
        self, owner: str, query: dict[str, Any], config: dict[str, Any] | None = None
    ) -> Any:
        owner_key = _pubkey(owner)
        encoding = (config or {}).get("encoding", "base58")
        if encoding not in ("base64", "jsonParsed"):
            raise _Rejected(-32602, f"Invalid params: unsupported encoding {encoding!r} here")
        if "mint" in query:
            mint_account = self.svm.get_account(_pubkey(query["mint"]))
            if mint_account is None:
                raise _Rejected(-32602, "Invalid param: could not find mint")
            programs, mint = [str(mint_account.owner)], query["mint"]
        elif query.get("programId") in TOKEN_PROGRAMS:
            programs, mint = [query["programId"]], None
        else:
            raise _Rejected(-32602, "Invalid param: unrecognized Token program id")
        found = []
        for program in programs:
            for address, account in self.svm.get_program_accounts(Pubkey.from_string(program)):
                state = spl.parse_token_account(program, bytes(account.data))
                if state is None or state.owner != owner_key:
                    continue
                if mint is not None and str(state.mint) != mint:
                    continue
                data = _account_json(account, encoding)
                if encoding == "jsonParsed":
                    data["data"] = self._parsed_token_account(program, state, len(account.data))
                found.append({"pubkey": str(address), "account": data})
        return self._context(found)

    def rpc_getMinimumBalanceForRentExemption(
        self, size: int, config: dict[str, Any] | None = None
    ) -> Any:
        return self.svm.minimum_balance_for_rent_exemption(size)

    # -- helpers --------------------------------------------------------------

    def _parsed_token_account(self, program: str, state: Any, space: int) -> dict[str, Any]:
        account = self.svm.get_account(state.mint)
        mint = (
            None
            if account is None
            else spl.parse_mint(str(state.mint), program, bytes(account.data))
        )
        if mint is None:  # a node parses an account of a missing mint as base64 instead
            raise _Rejected(-32603, "Internal error: token account of an unknown mint")
        decimals = mint.decimals
        ui = state.amount / 10**decimals
        return {
            "program": "spl-token-2022" if program == TOKEN_2022_PROGRAM else "spl-token",
            "parsed": {
                "info": {
                    "isNative": state.is_native is not None,
                    "mint": str(state.mint),
                    "owner": str(state.owner),
                    "state": "frozen" if "Frozen" in str(state.state) else "initialized",
                    "tokenAmount": {
                        "amount": str(state.amount),
                        "decimals": decimals,
                        "uiAmount": ui,
                        "uiAmountString": _ui_string(state.amount, decimals),
                    },
                },
                "type": "account",
            },
            "space": space,
        }

    def _next_fault(self, method: str) -> Fault | None:
        for key in (method, "*"):
            if self._faults[key]:
                return self._faults[key].popleft()
        return None

    def _context(self, value: Any) -> dict[str, Any]:
        return {"context": {"apiVersion": API_VERSION, "slot": self.slot}, "value": value}

    def _record(self, signature: Signature, result: Any) -> str:
        err = None if isinstance(result, TransactionMetadata) else error_json(result.err())
        self._landed[str(signature)] = _Landed(self.slot, err)
        self.advance()
        return str(signature)

    def _status(self, signature: str) -> dict[str, Any] | None:
        landed = self._landed.get(signature)
        if landed is None:
            return None
        landed.polls += 1
        confirmed = landed.polls > self.confirm_after_polls
        return {
            "slot": landed.slot,
            "confirmations": 1 if confirmed else 0,
            "err": landed.err,
            "status": {"Ok": None} if landed.err is None else {"Err": landed.err},
            "confirmationStatus": "confirmed" if confirmed else "processed",
        }

    def _preflight_failure(self, err: Any, logs: list[str]) -> None:
        raise _Rejected(
            -32002,
            f"Transaction simulation failed: {_display(err)}",
            {
                "err": err,
                "logs": logs,
                "accounts": None,
                "unitsConsumed": 150,
                "returnData": None,
                "innerInstructions": None,
                "replacementBlockhash": None,
            },
        )


class _Rejected(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code, self.message, self.data = code, message, data


def _pubkey(address: str) -> Pubkey:
    try:
        return Pubkey.from_string(address)
    except ValueError:
        raise _Rejected(-32602, "Invalid param: Invalid") from None


def _account_json(account: Account, encoding: str) -> dict[str, Any]:
    """An account as getAccountInfo's ``value`` carries it (data base64 unless replaced)."""
    data = bytes(account.data)
    return {
        "data": [base64.b64encode(data).decode("ascii"), "base64"],
        "executable": account.executable,
        "lamports": account.lamports,
        "owner": str(account.owner),
        "rentEpoch": account.rent_epoch,
        "space": len(data),
    }


def _ui_string(amount: int, decimals: int) -> str:
    """The amount in whole tokens, as the node prints uiAmountString ("12.5", "420000000")."""
    whole, fraction = divmod(amount, 10**decimals)
    text = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return f"{whole}.{text}" if text else str(whole)


def _result(body: dict[str, Any], result: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "result": result, "id": body.get("id")})


def _error(body: dict[str, Any], code: int, message: str, data: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "error": error, "id": body.get("id")})


def _display(err: Any) -> str:
    """Roughly how agave prints a TransactionError in the error message."""
    if err == "BlockhashNotFound":
        return "Blockhash not found"
    if err == "AlreadyProcessed":
        return "This transaction has already been processed"
    if isinstance(err, dict) and "InstructionError" in err:
        index, inner = err["InstructionError"]
        detail = f"custom program error: {inner['Custom']:#x}" if isinstance(inner, dict) else inner
        return f"Error processing Instruction {index}: {detail}"
    if isinstance(err, dict) and "InsufficientFundsForRent" in err:
        index = err["InsufficientFundsForRent"]["account_index"]
        return f"Transaction results in an account ({index}) with insufficient funds for rent"
    return str(err)


def error_json(err: Any) -> Any:
    """A solders TransactionError in serde's JSON shape, as a node serializes it."""
    if isinstance(err, ts.TransactionErrorInstructionError):
        inner = err.err
        if isinstance(inner, ts.InstructionErrorCustom):
            return {"InstructionError": [err.index, {"Custom": inner.code}]}
        return {"InstructionError": [err.index, str(inner).split(".")[-1]]}
    if isinstance(err, ts.TransactionErrorInsufficientFundsForRent):
        return {"InsufficientFundsForRent": {"account_index": err.account_index}}
    return str(err).split(".")[-1]


class NodeServer:
    """A running loopback server; tests swap ``node`` to start from a fresh ledger."""

    def __init__(self, node: FakeSolanaNode) -> None:
        self.node = node
        self.url = ""

    def use(self, node: FakeSolanaNode) -> FakeSolanaNode:
        self.node.release()
        self.node = node
        return node

    async def _handle(self, request: Request) -> Response:
        return await self.node.handle(request)


@asynccontextmanager
async def node_server(node: FakeSolanaNode | None = None) -> AsyncIterator[NodeServer]:
    """Run a node on 127.0.0.1, on a port the kernel picks."""
    server = NodeServer(node or FakeSolanaNode())
    app = Starlette(routes=[Route("/", server._handle, methods=["POST"])])
    # proto=IPPROTO_TCP, or asyncio skips TCP_NODELAY on accepted connections and
    # every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server.url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws="none")
    uvicorn_server = uvicorn.Server(config)
    try:
        async with anyio.create_task_group() as tg:
            # The socket already listens: clients may connect before uvicorn accepts.
            tg.start_soon(uvicorn_server.serve, [sock])
            try:
                yield server
            finally:
                server.node.release()
                uvicorn_server.should_exit = True
    finally:
        sock.close()


@asynccontextmanager
async def serving(node: FakeSolanaNode) -> AsyncIterator[str]:
    """Run this node alone; yield its URL."""
    async with node_server(node) as server:
        yield server.url


class ThreadedNode:
    """The fake JSON-RPC node on its own event loop in a thread (the tests are blocking)."""

    def __init__(self, node: FakeSolanaNode | None = None) -> None:
        self.node = node or FakeSolanaNode()
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with node_server(self.node) as server:
            self.url = server.url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedNode:
        self._thread.start()
        assert self._ready.wait(30), "the fake node did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self.node.release)
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the node's loop (LiteSVM is not shared between threads)."""
        assert self._loop is not None

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(30)

    def balance(self, address: str) -> int:
        return int(self.call(lambda: self.node.svm.get_balance(Pubkey.from_string(address))) or 0)
