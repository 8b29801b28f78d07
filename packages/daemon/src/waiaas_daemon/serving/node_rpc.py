"""The local node's JSON-RPC methods, in the shapes of Solana's published JSON-RPC reference.

``LocalNode.answer(body)`` takes a decoded JSON-RPC 2.0 request (or a batch)
and returns the answer, with a ``NodeChain`` (LiteSVM) as the ledger and a
``NodeLedger`` (SQLite) keeping it across restarts. It serves every method
``RpcChain`` and the x402 settlement call: getBalance, getLatestBlockhash,
isBlockhashValid, sendTransaction, simulateTransaction, getSignatureStatuses,
getSignaturesForAddress, getTransaction, requestAirdrop, getAccountInfo,
getMultipleAccounts, getTokenAccountsByOwner, getTokenAccountBalance,
getMinimumBalanceForRentExemption, getFeeForMessage, and getHealth, getVersion,
getSlot, getBlockHeight, getGenesisHash, getEpochInfo for clients that check
the node first. Requests get the limits of every waiaas route
(``waiaas_core.limits.json_problem``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import base58
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from waiaas_core.limits import MAX_AMOUNT, json_problem
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_2022_PROGRAM, TOKEN_PROGRAMS, AccountSnapshot
from waiaas_daemon.chain.node import NodeChain, Rejected, already_processed, ui_token_amount
from waiaas_daemon.storage.node_ledger import NodeLedger

API_VERSION = "2.2.0"
FEATURE_SET = 3294202862
SLOTS_PER_EPOCH = 432000
MAX_SIGNATURES = 256
MAX_ACCOUNTS = 100
MAX_HISTORY = 1000
MAX_BATCH = 100
COMMITMENTS = ("processed", "confirmed", "finalized")

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
UNSUPPORTED_VERSION = -32015


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


@dataclass
class LocalNode:
    chain: NodeChain
    ledger: NodeLedger
    genesis: str

    @classmethod
    def open(cls, path: Path) -> LocalNode:
        """The node of the ledger at ``path`` (made on the first start)."""
        ledger = NodeLedger(path)
        faucet = Keypair.from_base58_string(ledger.set_meta_once("faucet", str(Keypair())))
        genesis = ledger.set_meta_once("genesis", str(Hash.new_unique()))
        chain = NodeChain(
            ledger.accounts(),
            faucet=faucet,
            slot=int(ledger.meta("slot") or 0),
            recent=ledger.recent_blockhashes(149),
        )
        return cls(chain, ledger, genesis)

    def close(self) -> None:
        self.ledger.close()

    def answer(self, body: Any) -> Any:
        """The answer to one request or to a batch (a list of answers)."""
        if isinstance(body, list):
            if not body or len(body) > MAX_BATCH:
                return _error(None, INVALID_REQUEST, "Invalid request")
            return [self._one(item) for item in body]
        return self._one(body)

    def _one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict):
            return _error(None, INVALID_REQUEST, "Invalid request")
        request_id = request.get("id")
        if not _valid_id(request_id):
            return _error(None, INVALID_REQUEST, "Invalid request")
        method, params = request.get("method"), request.get("params", [])
        if request.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return _error(request_id, INVALID_REQUEST, "Invalid request")
        problem = json_problem(params, depth=2)
        if problem is not None:
            return _error(request_id, INVALID_PARAMS, f"Invalid params: {problem}")
        if not isinstance(params, list):
            return _error(request_id, INVALID_PARAMS, "Invalid params: expected an array")
        handler = _METHODS.get(method)
        if handler is None:
            return _error(request_id, METHOD_NOT_FOUND, "Method not found")
        try:
            result = handler(self, params)
        except (RpcError, Rejected) as exc:
            return _error(request_id, exc.code, exc.message, exc.data)
        return {"jsonrpc": "2.0", "result": result, "id": request_id}

    # -- what the methods share --------------------------------------------------

    def context(self, value: Any) -> dict[str, Any]:
        return {"context": {"apiVersion": API_VERSION, "slot": self.chain.slot}, "value": value}

    def land(self, raw: bytes, *, preflight: bool) -> str:
        try:
            signature = str(VersionedTransaction.from_bytes(raw).signatures[0])
        except (ValueError, IndexError) as exc:
            raise RpcError(INVALID_PARAMS, f"invalid transaction: {exc}") from None
        if self.ledger.statuses([signature]):
            raise already_processed()
        landed = self.chain.execute(raw, preflight=preflight)
        also = (self.chain.faucet_snapshot(),)
        self.ledger.save(landed, self.chain.slot, also)
        return landed.signature


# -- the methods -------------------------------------------------------------------


def _get_health(node: LocalNode, params: list[Any]) -> Any:
    return "ok"


def _get_version(node: LocalNode, params: list[Any]) -> Any:
    return {"solana-core": API_VERSION, "feature-set": FEATURE_SET}


def _get_slot(node: LocalNode, params: list[Any]) -> Any:
    _config(params, 0)
    return node.chain.slot


def _get_genesis_hash(node: LocalNode, params: list[Any]) -> Any:
    return node.genesis


def _get_epoch_info(node: LocalNode, params: list[Any]) -> Any:
    _config(params, 0)
    slot = node.chain.slot
    return {
        "absoluteSlot": slot,
        "blockHeight": slot,
        "epoch": slot // SLOTS_PER_EPOCH,
        "slotIndex": slot % SLOTS_PER_EPOCH,
        "slotsInEpoch": SLOTS_PER_EPOCH,
        "transactionCount": None,
    }


def _get_latest_blockhash(node: LocalNode, params: list[Any]) -> Any:
    _config(params, 0)
    blockhash, last_valid = node.chain.latest_blockhash()
    return node.context({"blockhash": blockhash, "lastValidBlockHeight": last_valid})


def _is_blockhash_valid(node: LocalNode, params: list[Any]) -> Any:
    text = _string(params, 0, "blockhash")
    _config(params, 1)
    try:
        Hash.from_string(text)
    except ValueError:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from None
    return node.context(node.chain.blockhash_live(text))


def _get_balance(node: LocalNode, params: list[Any]) -> Any:
    address = _address(params, 0)
    _config(params, 1)
    return node.context(node.chain.snapshot(address).lamports)


def _get_account_info(node: LocalNode, params: list[Any]) -> Any:
    address = _address(params, 0)
    config = _config(params, 1)
    return node.context(_account(node, node.chain.snapshot(address), config))


def _get_multiple_accounts(node: LocalNode, params: list[Any]) -> Any:
    addresses = params[0] if params else None
    if not isinstance(addresses, list) or len(addresses) > MAX_ACCOUNTS:
        raise RpcError(INVALID_PARAMS, f"Invalid params: up to {MAX_ACCOUNTS} addresses")
    config = _config(params, 1)
    keys = [_address([a], 0) for a in addresses]
    return node.context([_account(node, node.chain.snapshot(k), config) for k in keys])


def _get_token_accounts_by_owner(node: LocalNode, params: list[Any]) -> Any:
    owner = _address(params, 0)
    query = params[1] if len(params) > 1 else None
    config = _config(params, 2)
    if isinstance(query, dict) and set(query) == {"mint"}:
        mint = node.chain.snapshot(_address([query["mint"]], 0))
        if mint.lamports == 0 or mint.owner not in TOKEN_PROGRAMS:
            raise RpcError(INVALID_PARAMS, "Invalid param: could not find mint")
        programs, wanted = [mint.owner], mint.address
    elif isinstance(query, dict) and set(query) == {"programId"}:
        if query["programId"] not in TOKEN_PROGRAMS:
            raise RpcError(INVALID_PARAMS, "Invalid param: unrecognized Token program id")
        programs, wanted = [query["programId"]], None
    else:
        raise RpcError(INVALID_PARAMS, "Invalid params: expected {mint} or {programId}")
    found = []
    owner_key = Pubkey.from_string(owner)
    for program in programs:
        for address, _ in node.chain.program_accounts(program):
            snap = node.chain.snapshot(address)
            state = spl.parse_token_account(program, snap.data)
            if state is None or state.owner != owner_key:
                continue
            if wanted is not None and str(state.mint) != wanted:
                continue
            found.append({"pubkey": snap.address, "account": _account(node, snap, config)})
    return node.context(found)


def _get_token_account_balance(node: LocalNode, params: list[Any]) -> Any:
    snap = node.chain.snapshot(_address(params, 0))
    _config(params, 1)
    state = spl.parse_token_account(snap.owner, snap.data) if snap.owner in TOKEN_PROGRAMS else None
    if state is None:
        raise RpcError(INVALID_PARAMS, "Invalid param: not a Token account")
    return node.context(ui_token_amount(state.amount, _decimals(node, str(state.mint))))


def _get_minimum_balance(node: LocalNode, params: list[Any]) -> Any:
    size = params[0] if params else None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= 10 * 1024 * 1024:
        raise RpcError(INVALID_PARAMS, "Invalid params: data length must be 0 to 10 MiB")
    _config(params, 1)
    return node.chain.rent(size)


def _get_fee_for_message(node: LocalNode, params: list[Any]) -> Any:
    raw = _decode(_string(params, 0, "message"), "base64")
    _config(params, 1)
    try:
        signers = raw[1] if raw and raw[0] & 0x80 else raw[0]
    except IndexError:
        raise RpcError(INVALID_PARAMS, "Invalid params: not a message") from None
    return node.context(5000 * signers)


def _send_transaction(node: LocalNode, params: list[Any]) -> Any:
    config = _config(params, 1)
    raw = _decode(_string(params, 0, "transaction"), config.get("encoding", "base58"))
    return node.land(raw, preflight=not config.get("skipPreflight", False))


def _simulate_transaction(node: LocalNode, params: list[Any]) -> Any:
    config = _config(params, 1)
    raw = _decode(_string(params, 0, "transaction"), config.get("encoding", "base58"))
    try:
        tx = VersionedTransaction.from_bytes(raw)
    except ValueError as exc:
        raise RpcError(INVALID_PARAMS, f"invalid transaction: {exc}") from None
    err, logs, units = node.chain.simulate(tx)
    return node.context(
        {
            "err": err,
            "logs": logs,
            "accounts": None,
            "unitsConsumed": units,
            "returnData": None,
            "innerInstructions": None,
            "replacementBlockhash": None,
        }
    )


def _request_airdrop(node: LocalNode, params: list[Any]) -> Any:
    address = _address(params, 0)
    lamports = params[1] if len(params) > 1 else None
    _config(params, 2)
    if type(lamports) is not int or not 0 < lamports <= MAX_AMOUNT:
        raise RpcError(INVALID_PARAMS, "Invalid params: lamports must be a positive u64")
    raw = node.chain.airdrop_transaction(address, lamports)
    return node.land(raw, preflight=True)


def _get_signature_statuses(node: LocalNode, params: list[Any]) -> Any:
    signatures = params[0] if params else None
    if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURES:
        raise RpcError(INVALID_PARAMS, f"Invalid params: up to {MAX_SIGNATURES} signatures")
    _config(params, 1)
    for signature in signatures:
        _signature(signature)
    landed = node.ledger.statuses(list(dict.fromkeys(signatures)))
    values: list[Any] = []
    for signature in signatures:
        if signature not in landed:
            values.append(None)
            continue
        slot, err = landed[signature]
        values.append(
            {
                "slot": slot,
                "confirmations": None,  # rooted: a single node finalizes at once
                "err": err,
                "status": {"Ok": None} if err is None else {"Err": err},
                "confirmationStatus": "finalized",
            }
        )
    return node.context(values)


def _get_signatures_for_address(node: LocalNode, params: list[Any]) -> Any:
    address = _address(params, 0)
    config = _config(params, 1)
    limit = config.get("limit", MAX_HISTORY)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_HISTORY:
        raise RpcError(INVALID_PARAMS, f"Invalid params: limit must be 1 to {MAX_HISTORY}")
    before, until = config.get("before"), config.get("until")
    for given in (before, until):
        if given is not None:
            _signature(given)
    return [
        {
            "signature": signature,
            "slot": slot,
            "err": err,
            "memo": None,
            "blockTime": block_time,
            "confirmationStatus": "finalized",
        }
        for signature, slot, err, block_time in node.ledger.history(address, limit, before, until)
    ]


def _get_transaction(node: LocalNode, params: list[Any]) -> Any:
    signature = _signature(params[0] if params else None)
    config = _config(params, 1)
    encoding = config.get("encoding", "json")
    if encoding not in ("json", "base64", "base58"):
        raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported encoding {encoding!r}")
    stored = node.ledger.transaction(signature)
    if stored is None:
        return None
    supported = config.get("maxSupportedTransactionVersion")
    if stored.version is not None and (supported is None or supported < stored.version):
        raise RpcError(
            UNSUPPORTED_VERSION,
            f"Transaction version ({stored.version}) is not supported by the requesting "
            "client. Please try the request again with the following configuration "
            'parameter: "maxSupportedTransactionVersion": 0',
        )
    if encoding == "json":
        transaction: Any = _ui_transaction(VersionedTransaction.from_bytes(stored.raw))
    elif encoding == "base64":
        transaction = [base64.b64encode(stored.raw).decode("ascii"), "base64"]
    else:
        transaction = [base58.b58encode(stored.raw).decode("ascii"), "base58"]
    meta = {
        "err": stored.err,
        "status": {"Ok": None} if stored.err is None else {"Err": stored.err},
        "innerInstructions": [],
        "rewards": [],
        "loadedAddresses": {"writable": [], "readonly": []},
        **stored.meta,
    }
    answer: dict[str, Any] = {
        "slot": stored.slot,
        "blockTime": stored.block_time,
        "transaction": transaction,
        "meta": meta,
    }
    if supported is not None:
        answer["version"] = "legacy" if stored.version is None else stored.version
    return answer


_METHODS: dict[str, Callable[[LocalNode, list[Any]], Any]] = {
    "getHealth": _get_health,
    "getVersion": _get_version,
    "getSlot": _get_slot,
    "getBlockHeight": _get_slot,
    "getGenesisHash": _get_genesis_hash,
    "getEpochInfo": _get_epoch_info,
    "getLatestBlockhash": _get_latest_blockhash,
    "isBlockhashValid": _is_blockhash_valid,
    "getBalance": _get_balance,
    "getAccountInfo": _get_account_info,
    "getMultipleAccounts": _get_multiple_accounts,
    "getTokenAccountsByOwner": _get_token_accounts_by_owner,
    "getTokenAccountBalance": _get_token_account_balance,
    "getMinimumBalanceForRentExemption": _get_minimum_balance,
    "getFeeForMessage": _get_fee_for_message,
    "sendTransaction": _send_transaction,
    "simulateTransaction": _simulate_transaction,
    "requestAirdrop": _request_airdrop,
    "getSignatureStatuses": _get_signature_statuses,
    "getSignaturesForAddress": _get_signatures_for_address,
    "getTransaction": _get_transaction,
}


# -- wire shapes -----------------------------------------------------------------------


def _account(node: LocalNode, snap: AccountSnapshot, config: dict[str, Any]) -> Any:
    """An account as getAccountInfo's ``value`` (null when it does not exist)."""
    if snap.lamports == 0:
        return None
    encoding = config.get("encoding", "base58")
    data = snap.data
    window = config.get("dataSlice")
    if window is not None:
        if not isinstance(window, dict) or not all(
            isinstance(window.get(k), int) and window[k] >= 0 for k in ("offset", "length")
        ):
            raise RpcError(INVALID_PARAMS, "Invalid params: dataSlice is {offset, length}")
        data = data[window["offset"] : window["offset"] + window["length"]]
    encoded: Any
    if encoding == "jsonParsed" and window is None:
        encoded = _parsed(node, snap) or [base64.b64encode(data).decode("ascii"), "base64"]
    elif encoding in ("base64", "jsonParsed"):
        encoded = [base64.b64encode(data).decode("ascii"), "base64"]
    elif encoding == "base58":
        if len(data) > 128:
            raise RpcError(
                INVALID_REQUEST,
                "Encoded binary (base 58) data should be less than 128 bytes, please use "
                "Base64 encoding.",
            )
        encoded = [base58.b58encode(data).decode("ascii"), "base58"]
    else:
        raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported encoding {encoding!r}")
    return {
        "data": encoded,
        "executable": snap.executable,
        "lamports": snap.lamports,
        "owner": snap.owner,
        "rentEpoch": snap.rent_epoch,
        "space": len(snap.data),
    }


def _parsed(node: LocalNode, snap: AccountSnapshot) -> dict[str, Any] | None:
    """jsonParsed data of a token account or a mint (None: the node falls back to base64)."""
    if snap.owner not in TOKEN_PROGRAMS:
        return None
    program = "spl-token-2022" if snap.owner == TOKEN_2022_PROGRAM else "spl-token"
    state = spl.parse_token_account(snap.owner, snap.data)
    if state is not None:
        info = {
            "isNative": state.is_native is not None,
            "mint": str(state.mint),
            "owner": str(state.owner),
            "state": "frozen" if "Frozen" in str(state.state) else "initialized",
            "tokenAmount": ui_token_amount(state.amount, _decimals(node, str(state.mint))),
        }
        parsed = {"info": info, "type": "account"}
        return {"program": program, "parsed": parsed, "space": len(snap.data)}
    mint = spl.parse_mint(snap.address, snap.owner, snap.data)
    if mint is None:
        return None
    freeze = snap.data[50:82] if snap.data[46:50] == b"\x01\x00\x00\x00" else None
    info = {
        "decimals": mint.decimals,
        "freezeAuthority": None if freeze is None else str(Pubkey.from_bytes(freeze)),
        "isInitialized": True,
        "mintAuthority": mint.mint_authority,
        "supply": str(mint.supply),
    }
    return {"program": program, "parsed": {"info": info, "type": "mint"}, "space": len(snap.data)}


def _decimals(node: LocalNode, mint: str) -> int:
    snap = node.chain.snapshot(mint)
    info = spl.parse_mint(mint, snap.owner, snap.data) if snap.lamports else None
    return 0 if info is None else info.decimals


def _ui_transaction(tx: VersionedTransaction) -> dict[str, Any]:
    """A transaction in the ``json`` encoding: signatures and the message's fields."""
    message = tx.message
    header = message.header
    ui: dict[str, Any] = {
        "accountKeys": [str(k) for k in message.account_keys],
        "header": {
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            "numRequiredSignatures": header.num_required_signatures,
        },
        "instructions": [
            {
                "accounts": list(ix.accounts),
                "data": base58.b58encode(bytes(ix.data)).decode("ascii"),
                "programIdIndex": ix.program_id_index,
                "stackHeight": None,
            }
            for ix in message.instructions
        ],
        "recentBlockhash": str(message.recent_blockhash),
    }
    if isinstance(message, MessageV0):
        ui["addressTableLookups"] = [
            {
                "accountKey": str(lookup.account_key),
                "writableIndexes": list(lookup.writable_indexes),
                "readonlyIndexes": list(lookup.readonly_indexes),
            }
            for lookup in message.address_table_lookups
        ]
    return {"signatures": [str(s) for s in tx.signatures], "message": ui}


# -- parameters ----------------------------------------------------------------------


def _string(params: list[Any], index: int, what: str) -> str:
    if len(params) <= index or not isinstance(params[index], str):
        raise RpcError(INVALID_PARAMS, f"Invalid params: {what} must be a string")
    return params[index]


def _address(params: list[Any], index: int) -> str:
    text = _string(params, index, "the address")
    try:
        return str(Pubkey.from_string(text))
    except ValueError:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from None


def _signature(value: Any) -> str:
    if not isinstance(value, str) or not 64 <= len(value) <= 88:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid")
    try:
        decoded = base58.b58decode(value)
    except ValueError:
        raise RpcError(INVALID_PARAMS, "Invalid param: Invalid") from None
    if len(decoded) != 64:
        raise RpcError(INVALID_PARAMS, "Invalid param: WrongSize")
    return value


def _config(params: list[Any], index: int) -> dict[str, Any]:
    """The optional configuration object at ``index``; a bad commitment is refused."""
    if len(params) <= index or params[index] is None:
        return {}
    config = params[index]
    if not isinstance(config, dict):
        raise RpcError(INVALID_PARAMS, "Invalid params: the configuration must be an object")
    commitment = config.get("commitment", config.get("preflightCommitment"))
    if commitment is not None and commitment not in COMMITMENTS:
        raise RpcError(INVALID_PARAMS, f"Invalid params: unknown commitment {commitment!r}")
    return config


def _decode(text: str, encoding: Any) -> bytes:
    try:
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
        if encoding == "base58":
            return base58.b58decode(text)
    except (binascii.Error, ValueError):
        raise RpcError(INVALID_PARAMS, f"invalid transaction: not {encoding}") from None
    raise RpcError(INVALID_PARAMS, f"Invalid params: unsupported encoding {encoding!r}")


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 64


def _error(request_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": request_id}
