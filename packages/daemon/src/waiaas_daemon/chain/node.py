"""The local chain as a node's ledger: LiteSVM with slots, landed transactions and a faucet.

``waiaas-daemon local-node`` (serving/local_node.py) answers Solana JSON-RPC
from a ``NodeChain``: a ``LocalChain`` whose every landed transaction advances
the slot and the blockhash and comes back as a ``Landed`` record (its bytes,
error, fee, balances before and after, logs), which the node saves in its own
SQLite file (storage/node_ledger.py) with the accounts it wrote. Airdrops are
ordinary transfers from a faucet keypair the ledger keeps, so they have a
history like every other transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import TransactionMetadata

from . import spl
from .base import LAMPORTS_PER_SIGNATURE, TOKEN_PROGRAMS, AccountSnapshot, parse_address
from .local import RECENT_BLOCKHASHES, LocalChain, _writable_keys, error_to_json

# What the faucet holds; topped up when it runs below half (a test chain's faucet).
FAUCET_FLOAT = 10**17  # 100 million SOL


@dataclass(frozen=True)
class Landed:
    """A transaction the node executed: what getTransaction and the history methods read."""

    signature: str
    slot: int
    block_time: int
    raw: bytes
    version: int | None  # None: legacy; 0: a v0 message
    err: Any  # the TransactionError in the RPC's JSON shape, None when it succeeded
    fee: int
    pre_balances: tuple[int, ...]
    post_balances: tuple[int, ...]
    pre_token_balances: tuple[dict[str, Any], ...]
    post_token_balances: tuple[dict[str, Any], ...]
    logs: tuple[str, ...]
    compute_units: int
    addresses: tuple[str, ...]  # every account key, for getSignaturesForAddress
    accounts: tuple[AccountSnapshot, ...] = field(default=(), repr=False)  # what it wrote
    blockhash: str = ""  # the node's latest blockhash after it


class Rejected(Exception):
    """A transaction the node refuses before executing it (JSON-RPC error ``code``)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


PREFLIGHT_FAILURE = -32002
SIGNATURE_FAILURE = -32003


class NodeChain(LocalChain):
    """One LiteSVM runtime behind a JSON-RPC node: ``slot``, ``latest_blockhash``, ``execute``."""

    def __init__(
        self,
        accounts: Iterable[AccountSnapshot] = (),
        *,
        faucet: Keypair,
        slot: int = 0,
        recent: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.slot = slot
        self._clock = clock
        super().__init__(accounts)
        kept = [Hash.from_string(h) for h in recent][-(RECENT_BLOCKHASHES - 1) :]
        if kept:  # blockhashes handed out before a restart stay valid
            latest = self._recent[-1]
            self._recent.clear()
            self._recent.extend([*kept, latest])
        self.faucet = faucet

    def latest_blockhash(self) -> tuple[str, int]:
        """The blockhash a new transaction should use and the last block height it is valid."""
        return str(self._recent[-1]), self.slot + RECENT_BLOCKHASHES

    def recent_blockhashes(self) -> list[str]:
        return [str(h) for h in self._recent]

    def rent(self, size: int) -> int:
        return self.rent_exempt_minimum(size)

    def execute(self, raw: bytes, *, preflight: bool) -> Landed:
        """Run a signed transaction as sendTransaction does; Rejected if it never lands."""
        try:
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError as exc:
            raise Rejected(-32602, f"invalid transaction: {exc}") from None
        if not all(tx.verify_with_results()):
            raise Rejected(SIGNATURE_FAILURE, "Transaction signature verification failure")
        if tx.message.recent_blockhash not in self._recent:
            raise _preflight("BlockhashNotFound", [])
        if preflight:
            simulated = self._svm.simulate_transaction(tx)
            if not hasattr(simulated, "post_accounts"):
                raise _preflight(error_to_json(simulated.err()), list(simulated.meta().logs()))
        return self._land(tx, raw)

    def airdrop_transaction(self, to: str, lamports: int) -> bytes:
        """A faucet transfer to ``to``, signed, for ``execute`` (so it has a history)."""
        faucet = self.faucet.pubkey()
        if (self._svm.get_balance(faucet) or 0) < FAUCET_FLOAT // 2:
            self._svm.set_account(faucet, Account(FAUCET_FLOAT, b"", SYSTEM_PROGRAM_ID, False, 0))
        params = TransferParams(from_pubkey=faucet, to_pubkey=parse_address(to), lamports=lamports)
        tx = Transaction([self.faucet], Message([transfer(params)], faucet), self._recent[-1])
        return bytes(tx)

    def simulate(self, tx: VersionedTransaction) -> tuple[Any, list[str], int]:
        """(error or None, logs, compute units) of running ``tx`` without landing it."""
        result = self._svm.simulate_transaction(tx)
        if hasattr(result, "post_accounts"):
            meta = result.meta()
            return None, list(meta.logs()), meta.compute_units_consumed()
        meta = result.meta()
        return error_to_json(result.err()), list(meta.logs()), meta.compute_units_consumed()

    def program_accounts(self, program: str) -> list[tuple[str, int]]:
        """(address, lamports) of every account ``program`` owns."""
        found = self._svm.get_program_accounts(Pubkey.from_string(program))
        return [(str(address), account.lamports) for address, account in found]

    def faucet_snapshot(self) -> AccountSnapshot:
        return self.snapshot(self.faucet.pubkey())

    # -- inside ----------------------------------------------------------------

    def _advance(self) -> None:
        super()._advance()
        self.slot += 1
        self._svm.warp_to_slot(self.slot)

    def _land(self, tx: VersionedTransaction, raw: bytes) -> Landed:
        message = tx.message
        keys = list(message.account_keys)
        pre = tuple(self._svm.get_balance(k) or 0 for k in keys)
        pre_tokens = self._token_balances(keys)
        slot = self.slot
        result = self._svm.send_transaction(tx)
        self._advance()
        if isinstance(result, TransactionMetadata):
            err, meta = None, result
        else:
            err, meta = error_to_json(result.err()), result.meta()
        writable = _writable_keys(message)  # type: ignore[arg-type]
        return Landed(
            signature=str(tx.signatures[0]),
            slot=slot,
            block_time=int(self._clock()),
            raw=raw,
            version=0 if isinstance(message, MessageV0) else None,
            err=err,
            fee=LAMPORTS_PER_SIGNATURE * len(tx.signatures),
            pre_balances=pre,
            post_balances=tuple(self._svm.get_balance(k) or 0 for k in keys),
            pre_token_balances=pre_tokens,
            post_token_balances=self._token_balances(keys),
            logs=tuple(meta.logs()),
            compute_units=meta.compute_units_consumed(),
            addresses=tuple(str(k) for k in keys),
            accounts=self._snapshots(writable),
            blockhash=str(self._recent[-1]),
        )

    def _token_balances(self, keys: list[Pubkey]) -> tuple[dict[str, Any], ...]:
        """preTokenBalances / postTokenBalances: every token account among ``keys``."""
        found = []
        for index, key in enumerate(keys):
            account = self._svm.get_account(key)
            if account is None or str(account.owner) not in TOKEN_PROGRAMS:
                continue
            program = str(account.owner)
            state = spl.parse_token_account(program, bytes(account.data))
            if state is None:
                continue
            mint = self._mint(str(state.mint))
            decimals = 0 if mint is None else mint.decimals
            found.append(
                {
                    "accountIndex": index,
                    "mint": str(state.mint),
                    "owner": str(state.owner),
                    "programId": program,
                    "uiTokenAmount": ui_token_amount(state.amount, decimals),
                }
            )
        return tuple(found)


def ui_token_amount(amount: int, decimals: int) -> dict[str, Any]:
    """A token amount as the RPC prints it: base units as a string, and in whole tokens."""
    whole, fraction = divmod(amount, 10**decimals)
    digits = f"{fraction:0{decimals}d}".rstrip("0") if decimals else ""
    return {
        "amount": str(amount),
        "decimals": decimals,
        "uiAmount": amount / 10**decimals if amount else 0.0,
        "uiAmountString": f"{whole}.{digits}" if digits else str(whole),
    }


def _preflight(err: Any, logs: list[str]) -> Rejected:
    """-32002 with the simulation's result in ``data``, as an agave node answers it."""
    return Rejected(
        PREFLIGHT_FAILURE,
        f"Transaction simulation failed: {_display(err)}",
        {
            "err": err,
            "logs": logs,
            "accounts": None,
            "unitsConsumed": 0,
            "returnData": None,
            "innerInstructions": None,
            "replacementBlockhash": None,
        },
    )


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
    return str(err)


def already_processed() -> Rejected:
    return _preflight("AlreadyProcessed", [])
