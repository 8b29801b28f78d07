"""Solana JSON-RPC over httpx: the devnet, testnet and mainnet networks, or any rpc_url.

The connections are aiohttp's, under httpx's API (chain/http.py).

Transient failures (connection, timeout, HTTP 429/5xx, a node that is behind)
are retried with backoff, then raised as CHAIN_ERROR, which is retryable.

Exception tree::

    Exception
     ├── WaiaasError("CHAIN_ERROR")   the node could not be reached or answered nonsense
     └── RpcError                     a JSON-RPC error object the node answered
"""

from __future__ import annotations

import base64
import itertools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import httpx
from solders.hash import Hash
from solders.keypair import Keypair
from solders.signature import Signature
from solders.token.state import TokenAccount
from solders.transaction import Transaction, VersionedTransaction

from waiaas_core.errors import WaiaasError

from . import spl
from .base import (
    LAMPORTS_PER_SIGNATURE,
    TOKEN_PROGRAMS,
    MintInfo,
    Outcome,
    PreparedTransfer,
    SolanaChain,
    TokenBalance,
    TokenTransferCost,
    build_transfer,
    check_amount,
    describe_transaction_error,
    parse_address,
    sign_checked,
)
from .http import AiohttpTransport

log = logging.getLogger(__name__)

PUBLIC_ENDPOINTS = {
    "devnet": "https://api.devnet.solana.com",
    "testnet": "https://api.testnet.solana.com",
    "mainnet": "https://api.mainnet-beta.solana.com",
}
COMMITMENT = "confirmed"
# How many of an address's latest transactions ``find_cosigned`` reads.
COSIGNED_SEARCH = 25
# With the default 3 s timeout a dead node is reported within about 14 s, before
# an MCP client's 15 s request timeout.
DEFAULT_RETRY_DELAYS = (0.25, 0.5, 1.0)

PREFLIGHT_FAILURE = -32002
# A node that is behind or not ready yet may answer the same request well a
# moment later: block not available, node unhealthy, block status not yet
# available, minimum context slot not reached.
TRANSIENT_RPC_CODES = frozenset({-32004, -32005, -32014, -32016})
TRANSIENT_HTTP_STATUSES = frozenset({429, 500, 502, 503, 504})

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class RpcError(Exception):
    """A JSON-RPC error object: ``{"code": -32002, "message": ..., "data": ...}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{code}: {message}")

    @classmethod
    def from_wire(cls, error: Any) -> RpcError:
        if not isinstance(error, dict):
            return cls(0, str(error))
        code = error.get("code")
        message = error.get("message")
        return cls(
            code if isinstance(code, int) else 0,
            message if isinstance(message, str) else "unknown error",
            error.get("data"),
        )

    @property
    def transaction_error(self) -> Any:
        """The TransactionError a preflight simulation reported, if any."""
        return self.data.get("err") if isinstance(self.data, dict) else None

    def describe(self) -> str:
        err = self.transaction_error
        if self.code != PREFLIGHT_FAILURE or err is None:
            return self.message
        logs = self.data.get("logs") or []
        return f"Transaction simulation failed: {describe_transaction_error(err, logs)}"


class _Transient(Exception):
    """A failure worth asking again for; its text names no URL and no secret."""


class RpcChain(SolanaChain):
    """A Solana cluster reached over JSON-RPC.

    ``transport`` replaces httpx's network transport (tests); ``sleep``,
    ``retry_delays`` and ``poll_interval`` let tests run without waiting.
    """

    def __init__(
        self,
        network: str,
        rpc_url: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 3.0,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        poll_interval: float = 0.5,
        poll_attempts: int = 20,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if not rpc_url and network not in PUBLIC_ENDPOINTS:
            raise ValueError(f"no public endpoint for network {network!r}; set rpc_url")
        self.network = network
        # "local" over JSON-RPC is a local validator (network = "local" with an
        # rpc_url), whose faucet answers requestAirdrop like devnet's.
        self.airdrop_allowed = network in ("devnet", "local")
        self.endpoint = rpc_url or PUBLIC_ENDPOINTS[network]
        self._client = httpx.AsyncClient(transport=transport or AiohttpTransport(), timeout=timeout)
        self._retry_delays = tuple(retry_delays)
        self._poll_interval = poll_interval
        self._poll_attempts = poll_attempts
        self._sleep = sleep
        self._ids = itertools.count(1)
        # Signatures handed out lately, and the record each was for.
        self._issued: OrderedDict[str, str | None] = OrderedDict()
        # A mint's decimals, program and extension types never change, nor the
        # rent of a given size within a run: both are asked once.
        self._mints: dict[str, MintInfo] = {}
        self._rents: dict[int, int] = {}

    async def get_balance(self, address: str) -> int:
        parse_address(address)
        result = await self._call("getBalance", [address, {"commitment": COMMITMENT}])
        return _expect(int, "getBalance", _value("getBalance", result))

    async def transfer_fee(self) -> int:
        # No priority fee is set, so a one-signature transfer costs the base fee.
        return LAMPORTS_PER_SIGNATURE

    async def prepare_transfer(
        self,
        signer: Keypair,
        to: str,
        amount: int,
        memo: str | None,
        *,
        sequence: int | None = None,
        record: str | None = None,
    ) -> PreparedTransfer:
        parse_address(to)
        check_amount(amount)
        return await self._sign_fresh(
            lambda blockhash: build_transfer(signer, to, amount, memo, blockhash), record
        )

    async def token_accounts(self, owner: str, known: tuple[str, ...] = ()) -> list[TokenBalance]:
        parse_address(owner)
        found: list[TokenBalance] = []
        config = {"commitment": COMMITMENT, "encoding": "jsonParsed"}
        for program in TOKEN_PROGRAMS:
            params = [owner, {"programId": program}, config]
            result = await self._call("getTokenAccountsByOwner", params)
            entries = _expect(
                list, "getTokenAccountsByOwner", _value("getTokenAccountsByOwner", result)
            )
            for entry in entries:
                found.append(await self._token_account_entry(entry, program))
        return sorted(found, key=lambda balance: (balance.mint, balance.account))

    async def mint_info(self, mint: str) -> MintInfo:
        parse_address(mint)
        if mint in self._mints:
            return self._mints[mint]
        account = await self._account(mint)
        info = None if account is None else spl.parse_mint(mint, *account)
        if info is None:
            raise WaiaasError(
                "TOKEN_NOT_FOUND", f"There is no token mint at {mint} on {self.network}."
            )
        self._mints[mint] = info
        return info

    async def token_balance(self, owner: str, mint: str, program: str) -> int:
        account = await self._account(str(spl.associated_address(owner, mint, program)))
        state = None if account is None else spl.parse_token_account(*account)
        return 0 if state is None else state.amount

    async def token_transfer_cost(
        self, to_owner: str, mint: str, program: str
    ) -> TokenTransferCost:
        recipient = spl.associated_address(to_owner, mint, program)
        owner = await self._account(to_owner)
        spl.check_recipient(to_owner, None if owner is None else owner[0])
        rent = 0
        if await self._account(str(recipient)) is None:
            size = spl.associated_account_size(await self.mint_info(mint))
            rent = await self._rent_exempt_minimum(size)
        return TokenTransferCost(LAMPORTS_PER_SIGNATURE, rent, str(recipient))

    async def prepare_token_transfer(
        self,
        signer: Keypair,
        to_owner: str,
        mint: str,
        amount: int,
        decimals: int,
        program: str,
        memo: str | None,
        *,
        sequence: int | None = None,
        record: str | None = None,
    ) -> PreparedTransfer:
        recipient = spl.associated_address(to_owner, mint, program)
        missing = await self._account(str(recipient)) is None
        instructions = spl.transfer_instructions(
            signer.pubkey(), to_owner, mint, amount, decimals, program, create_account=missing
        )
        return await self._sign_fresh(
            lambda blockhash: sign_checked(signer, instructions, memo, blockhash), record
        )

    async def fresh_blockhash(self) -> Hash:
        """The cluster's latest blockhash, for a transaction someone else submits (x402)."""
        return (await self._latest_blockhash())[0]

    async def _sign_fresh(
        self, build: Callable[[Hash], Transaction], record: str | None
    ) -> PreparedTransfer:
        # Two identical sends within one slot would get one blockhash and so one
        # signature: one transfer. Wait for the next blockhash instead. The same
        # record signed again (its first signing was never stored, so never sent:
        # the database failed in between) may have its signature again; waiting
        # would stall it for as long as the cluster makes no new block.
        for _ in range(self._poll_attempts):
            blockhash, last_valid = await self._latest_blockhash()
            tx = build(blockhash)
            signature = str(tx.signatures[0])
            if signature not in self._issued or (
                record is not None and self._issued[signature] == record
            ):
                self._remember(signature, record)
                return PreparedTransfer(signature, bytes(tx), last_valid)
            await self._sleep(self._poll_interval)
        raise WaiaasError("CHAIN_ERROR", "The cluster's blockhash did not change; send again.")

    async def submit(self, prepared: PreparedTransfer) -> Outcome:
        encoded = base64.b64encode(prepared.raw).decode("ascii")
        config = {"encoding": "base64", "preflightCommitment": COMMITMENT}
        try:
            answered = await self._call("sendTransaction", [encoded, config], raw_errors=True)
        except RpcError as exc:
            if exc.transaction_error != "AlreadyProcessed":
                return Outcome(prepared.signature, "FAILED", exc.describe())
            answered = prepared.signature  # sent before: find out how it went
        if answered != prepared.signature:
            log.warning("sendTransaction answered another signature than the transaction's")
        return await self._settle(prepared.signature)

    async def status(self, signature: str) -> Outcome | None:
        return await self._status(signature, search_history=True)

    async def find_cosigned(self, address: str, signature: str) -> Outcome | None:
        """The landed transaction that carries ``signature`` but not as its id, looked for
        among ``address``'s latest transactions; None if none of them carries it.

        An x402 payment's id is the facilitator's fee-payer signature, which the payer
        never sees: the payer's own signature (slot 1) is not indexed by the cluster, so
        ``getSignatureStatuses`` cannot find it. The payer's token account is in every
        payment it signs, so its history holds the payment if it landed.
        """
        params = [address, {"commitment": COMMITMENT, "limit": COSIGNED_SEARCH}]
        entries = _expect(
            list, "getSignaturesForAddress", await self._call("getSignaturesForAddress", params)
        )
        config = {
            "commitment": COMMITMENT,
            "encoding": "base64",
            "maxSupportedTransactionVersion": 0,
        }
        for entry in entries:
            candidate = _expect(dict, "getSignaturesForAddress", entry).get("signature")
            if not isinstance(candidate, str):
                raise _unexpected("getSignaturesForAddress")
            found = await self._call("getTransaction", [candidate, config])
            if found is None:
                continue
            try:
                encoded, encoding = found["transaction"]
                if encoding != "base64":
                    raise ValueError(encoding)
                tx = VersionedTransaction.from_bytes(base64.b64decode(encoded, validate=True))
                err = (found.get("meta") or {}).get("err")
            except (KeyError, TypeError, ValueError, AttributeError):
                raise _unexpected("getTransaction") from None
            if signature not in {str(s) for s in tx.signatures[1:]}:
                continue
            if err is None:
                return Outcome(candidate, "CONFIRMED")
            return Outcome(candidate, "FAILED", describe_transaction_error(err))
        return None

    async def blockhash_valid(self, blockhash: str) -> bool:
        """Whether a transaction made with ``blockhash`` can still land."""
        params = [blockhash, {"commitment": COMMITMENT}]
        result = await self._call("isBlockhashValid", params)
        value = _value("isBlockhashValid", result)
        if not isinstance(value, bool):
            raise _unexpected("isBlockhashValid")
        return value

    async def airdrop(self, address: str, amount: int) -> Outcome:
        if not self.airdrop_allowed:
            raise WaiaasError(
                "INVALID_REQUEST",
                f"Airdrops are not available on {self.network}; only on local and devnet.",
            )
        parse_address(address)
        check_amount(amount)
        params = [address, amount, {"commitment": COMMITMENT}]
        signature = _expect(str, "requestAirdrop", await self._call("requestAirdrop", params))
        return await self._settle(signature)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _account(self, address: str) -> tuple[str, bytes] | None:
        """(owner program, data) of an account, None if it does not exist."""
        params = [address, {"commitment": COMMITMENT, "encoding": "base64"}]
        value = _value("getAccountInfo", await self._call("getAccountInfo", params))
        if value is None:
            return None
        try:
            encoded, encoding = value["data"]
            if encoding != "base64" or not isinstance(value["owner"], str):
                raise ValueError(encoding)
            return value["owner"], base64.b64decode(encoded, validate=True)
        except (KeyError, TypeError, ValueError):
            raise _unexpected("getAccountInfo") from None

    async def _token_account_entry(self, entry: Any, program: str) -> TokenBalance:
        """One getTokenAccountsByOwner entry: jsonParsed, or the base64 a node falls back to.

        A node answers base64 for an account its parser does not know (a
        Token-2022 extension newer than the node); the decimals then come from
        the mint.
        """
        raw = _raw_token_account(entry, program)
        if raw is None:
            return _parsed_token_account(entry, program)
        address, state = raw
        decimals = (await self.mint_info(str(state.mint))).decimals
        return TokenBalance(address, str(state.mint), state.amount, decimals, program)

    async def _rent_exempt_minimum(self, size: int) -> int:
        if size not in self._rents:
            params = [size, {"commitment": COMMITMENT}]
            result = await self._call("getMinimumBalanceForRentExemption", params)
            self._rents[size] = _expect(int, "getMinimumBalanceForRentExemption", result)
        return self._rents[size]

    async def _latest_blockhash(self) -> tuple[Hash, int]:
        result = await self._call("getLatestBlockhash", [{"commitment": COMMITMENT}])
        value = _expect(dict, "getLatestBlockhash", _value("getLatestBlockhash", result))
        try:
            return Hash.from_string(value["blockhash"]), int(value["lastValidBlockHeight"])
        except (KeyError, TypeError, ValueError):
            raise _unexpected("getLatestBlockhash") from None

    async def _settle(self, signature: str) -> Outcome:
        """Poll a bounded number of times; SUBMITTED if the cluster has not settled it."""
        for attempt in range(self._poll_attempts):
            if attempt:
                await self._sleep(self._poll_interval)
            try:
                outcome = await self._status(signature, search_history=False)
            except WaiaasError as exc:
                log.warning("could not poll a submitted transaction: %s", exc.message)
                break  # it is sent; the daemon reconciles through status()
            if outcome is not None and outcome.status != "SUBMITTED":
                return outcome
        return Outcome(signature, "SUBMITTED")

    async def _status(self, signature: str, *, search_history: bool) -> Outcome | None:
        try:
            Signature.from_string(signature)
        except ValueError:
            return None
        params = [[signature], {"searchTransactionHistory": search_history}]
        result = await self._call("getSignatureStatuses", params)
        statuses = _expect(list, "getSignatureStatuses", _value("getSignatureStatuses", result))
        entry = statuses[0] if statuses else None
        if entry is None:
            return None
        entry = _expect(dict, "getSignatureStatuses", entry)
        if not _settled(entry):
            return Outcome(signature, "SUBMITTED")
        err = entry.get("err")
        if err is None:
            return Outcome(signature, "CONFIRMED")
        return Outcome(signature, "FAILED", describe_transaction_error(err))

    async def _call(self, method: str, params: list[Any], *, raw_errors: bool = False) -> Any:
        """One JSON-RPC call, retried while it fails transiently."""
        delays = iter(self._retry_delays)
        while True:
            try:
                return await self._post(method, params)
            except _Transient as exc:
                delay = next(delays, None)
                if delay is None:
                    raise WaiaasError(
                        "CHAIN_ERROR",
                        f"{method} failed {len(self._retry_delays) + 1} times on "
                        f"{self.network}: {exc}",
                    ) from None
                log.warning("%s on %s: %s; retrying in %.2fs", method, self.network, exc, delay)
                await self._sleep(delay)
            except RpcError as exc:
                if raw_errors:
                    raise
                raise WaiaasError("CHAIN_ERROR", f"{method} failed: {exc.message}") from None

    async def _post(self, method: str, params: list[Any]) -> Any:
        request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            response = await self._client.post(self.endpoint, json=body)
        except httpx.TimeoutException:
            raise _Transient("timed out") from None
        except httpx.TransportError as exc:
            # httpx's text may carry the URL, and an rpc_url may carry an API key.
            raise _Transient(type(exc).__name__) from None
        if response.status_code in TRANSIENT_HTTP_STATUSES:
            raise _Transient(f"HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError:
            raise _Transient(f"HTTP {response.status_code} with a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise _unexpected(method)
        if payload.get("error") is not None:
            error = RpcError.from_wire(payload["error"])
            if error.code in TRANSIENT_RPC_CODES:
                raise _Transient(error.message)
            raise error
        if response.status_code != 200:
            raise WaiaasError("CHAIN_ERROR", f"{method} answered HTTP {response.status_code}")
        if payload.get("id") != request_id or "result" not in payload:
            raise _unexpected(method)
        return payload["result"]

    def _remember(self, signature: str, record: str | None) -> None:
        self._issued[signature] = record
        if len(self._issued) > 4096:
            self._issued.popitem(last=False)


def _raw_token_account(entry: Any, program: str) -> tuple[str, TokenAccount] | None:
    """A base64 entry's address and state; None if the entry is not base64 (jsonParsed)."""
    try:
        account = entry["account"]
        if not isinstance(account["data"], list):
            return None
        encoded, encoding = account["data"]
        if encoding != "base64" or account["owner"] != program:
            raise ValueError(encoding)
        state = spl.parse_token_account(program, base64.b64decode(encoded, validate=True))
        if state is None:
            raise ValueError("not a token account")
        return str(parse_address(entry["pubkey"])), state
    except (KeyError, TypeError, ValueError, WaiaasError):
        raise _unexpected("getTokenAccountsByOwner") from None


def _parsed_token_account(entry: Any, program: str) -> TokenBalance:
    """One entry of getTokenAccountsByOwner in jsonParsed encoding."""
    try:
        account = entry["account"]
        info = account["data"]["parsed"]["info"]
        amount = info["tokenAmount"]
        decimals = amount["decimals"]
        if account["owner"] != program or not isinstance(decimals, int):
            raise ValueError(account["owner"])
        return TokenBalance(
            account=str(parse_address(entry["pubkey"])),
            mint=str(parse_address(info["mint"])),
            amount=_base_units(amount["amount"]),
            decimals=decimals,
            program=program,
        )
    except (KeyError, TypeError, ValueError, WaiaasError):
        raise _unexpected("getTokenAccountsByOwner") from None


def _base_units(text: Any) -> int:
    """A token amount, which the wire carries as a decimal string (a u64 overflows JSON numbers)."""
    if not isinstance(text, str) or not text.isdigit() or not text.isascii():
        raise ValueError("amount")
    return int(text)


def _settled(entry: dict[str, Any]) -> bool:
    status = entry.get("confirmationStatus")
    if status is None:  # older nodes: no status, and confirmations null once rooted
        return entry.get("confirmations") is None
    return status in ("confirmed", "finalized")


def _value(method: str, result: Any) -> Any:
    """``result.value`` of an RpcResponse (``{"context": {"slot": ..}, "value": ..}``)."""
    if not isinstance(result, dict) or "value" not in result:
        raise _unexpected(method)
    return result["value"]


def _expect(kind: type[T], method: str, value: Any) -> T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _unexpected(method)
    return value


def _unexpected(method: str) -> WaiaasError:
    return WaiaasError("CHAIN_ERROR", f"The node's answer to {method} is not what the API defines.")
