"""What the two Solana adapters share (the interface itself is in ``interface.py``).

Two implementations: ``local`` (LiteSVM in-process, durable through the
database) and ``rpc`` (Solana JSON-RPC over httpx for devnet/testnet/mainnet
or a configured rpc_url). Below the interface: what both share, the transfer
builder, address and amount checks, and the wording of chain errors. The SPL
Token byte layouts and instructions are in ``spl.py``.

Sending a token (SPEC 14), as the daemon's send path is meant to use it::

    info = await chain.mint_info(mint)            # TOKEN_NOT_FOUND if no mint there
    if info.unsupported: -> 400 UNSUPPORTED_TOKEN   # transfer fee, hook, confidential
    held = await chain.token_balance(sender, mint, info.program)
    cost = await chain.token_transfer_cost(to, mint, info.program)
    sol = await chain.get_balance(sender)
    held < amount         -> INSUFFICIENT_BALANCE (the token)
    sol < cost.lamports   -> INSUFFICIENT_BALANCE (SOL: fee + rent of a new account)
    record, then prepare_token_transfer(signer, to, mint, amount, info.decimals,
    info.program, memo), then submit() exactly as for a SOL transfer.

Token amounts are base units (integers), like lamports.

Test tokens are local only, outside this interface: ``LocalChain.create_mint``
(at first start: the registry's ``USDC``, 6 decimals; save ``outcome.accounts``
and seal ``authority_secret``), ``LocalChain.hold_mint_authority`` (at every
later start) and ``LocalChain.mint_to`` (an airdrop with ``token``). An
RpcChain holds no mint authority, so token airdrops are refused there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_AMOUNT

from .interface import (
    AccountSnapshot,
    Chain,
    MintInfo,
    Outcome,
    PreparedTransfer,
    TokenBalance,
    TokenTransferCost,
    TxStatus,
)

__all__ = [
    "AccountSnapshot",
    "Chain",
    "MintInfo",
    "Outcome",
    "PreparedTransfer",
    "TokenBalance",
    "TokenTransferCost",
    "TxStatus",
]

TOKEN_PROGRAM = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
TOKEN_2022_PROGRAM = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
TOKEN_PROGRAMS = (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)


class SolanaChain:
    """What both Solana adapters answer alike: no nonces, no fee bumps (a blockhash expires)."""

    native_symbol = "SOL"
    native_decimals = 9
    replace_after: int | None = None

    async def sequence_floor(self, address: str) -> int | None:
        return None

    async def bump_fee(self, signer: Any, raw: bytes) -> PreparedTransfer | None:
        return None


# SPL Memo (v2+); LiteSVM loads it by default, and every public cluster has it.
MEMO_PROGRAM_ID = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
LAMPORTS_PER_SIGNATURE = 5000
MAX_TRANSACTION_SIZE = 1232  # bytes on the wire: IPv6 MTU minus headers
MAX_LAMPORTS = MAX_AMOUNT


def parse_address(address: str) -> Pubkey:
    """A base58 address of 32 bytes, or INVALID_ADDRESS."""
    try:
        return Pubkey.from_string(address)
    except (ValueError, TypeError):
        raise WaiaasError("INVALID_ADDRESS", "The address is not a base58 32-byte key.") from None


def check_amount(amount: int) -> None:
    """Lamports as a u64 the chain accepts: 1 to 2^64-1, or INVALID_REQUEST."""
    if not 0 < amount <= MAX_LAMPORTS:
        raise WaiaasError("INVALID_REQUEST", "amount must be a positive integer below 2^64.")


def build_transfer(
    signer: Keypair, to: str, amount: int, memo: str | None, blockhash: Hash
) -> Transaction:
    """A signed system transfer, with an SPL Memo instruction when ``memo`` is given."""
    check_amount(amount)
    payer = signer.pubkey()
    params = TransferParams(from_pubkey=payer, to_pubkey=parse_address(to), lamports=amount)
    return sign_checked(signer, [transfer(params)], memo, blockhash)


def sign_checked(
    signer: Keypair, instructions: list[Instruction], memo: str | None, blockhash: Hash
) -> Transaction:
    """Sign ``instructions`` (plus a memo) with ``signer`` as fee payer; refuse an oversize one."""
    payer = signer.pubkey()
    if memo is not None:
        instructions = [*instructions, _memo_instruction(memo, payer)]
    tx = Transaction([signer], Message(instructions, payer), blockhash)
    size = len(bytes(tx))
    if size > MAX_TRANSACTION_SIZE:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"memo is too long: the transaction would be {size} bytes "
            f"(at most {MAX_TRANSACTION_SIZE}).",
        )
    return tx


def _memo_instruction(memo: str, payer: Pubkey) -> Instruction:
    try:
        data = memo.encode("utf-8")
    except UnicodeEncodeError:
        raise WaiaasError("INVALID_REQUEST", "memo must be valid UTF-8 text.") from None
    return Instruction(MEMO_PROGRAM_ID, data, [AccountMeta(payer, True, False)])


# Where Solana's own wording reads better than the variant name split into words.
_WORDING = {
    "AccountNotFound": "Attempt to debit an account but found no record of a prior credit.",
    "AlreadyProcessed": "This transaction has already been processed",
    "BlockhashNotFound": "Blockhash not found",
    "InsufficientFundsForFee": "Insufficient funds for fee",
    "SignatureFailure": "Transaction did not pass signature verification",
    "InsufficientFunds": "insufficient funds for instruction",
}

# Runtime bookkeeping lines; every other log line is a program explaining itself.
_ROUTINE_LOG = re.compile(r"^Program \w+ (invoke \[\d+\]|success|consumed .*|failed: .*)$")


def describe_transaction_error(err: Any, logs: Sequence[str] = ()) -> str:
    """Readable text for a TransactionError in its JSON-RPC shape, with the programs' reasons.

    The shapes are serde's: ``"BlockhashNotFound"``,
    ``{"InstructionError": [0, {"Custom": 1}]}``,
    ``{"InsufficientFundsForRent": {"account_index": 1}}``.
    """
    text = _describe(err)
    reasons = [line for line in logs if not _ROUTINE_LOG.match(line)]
    return f"{text} ({'; '.join(reasons)})" if reasons else text


def _describe(err: Any) -> str:
    if isinstance(err, str):
        return _WORDING.get(err) or _words(err)
    if isinstance(err, dict) and len(err) == 1:
        ((name, detail),) = err.items()
        if name == "InstructionError" and isinstance(detail, list) and len(detail) == 2:
            return f"Error processing Instruction {detail[0]}: {_instruction_error(detail[1])}"
        if name == "InsufficientFundsForRent" and isinstance(detail, dict):
            index = detail.get("account_index")
            return f"Transaction results in an account ({index}) with insufficient funds for rent"
        return f"{_words(name)} ({detail})"
    return str(err)


def _instruction_error(err: Any) -> str:
    if isinstance(err, dict) and isinstance(err.get("Custom"), int):
        return f"custom program error: {err['Custom']:#x}"
    return _describe(err).lower() if isinstance(err, str) else str(err)


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).capitalize()
