"""The x402 "exact" payment transaction on Solana, as its published scheme lays it out.

A versioned (v0) transaction whose fee payer is the facilitator named in the
requirements (``extra.feePayer``): SetComputeUnitLimit, SetComputeUnitPrice,
TransferChecked of the exact amount from the payer's associated token account
to ``payTo``'s, and a Memo with a random nonce so two payments never share a
signature. The payer signs its own slot only; the facilitator adds the fee
payer's signature and submits it, so the payer spends no SOL.
"""

from __future__ import annotations

import base64
import secrets

from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from waiaas_core.errors import WaiaasError

from . import spl
from .base import MEMO_PROGRAM_ID, PreparedTransfer, check_amount, parse_address

COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
COMPUTE_UNIT_LIMIT = 20_000
COMPUTE_UNIT_PRICE_MICROLAMPORTS = 1


def build_exact_payment(
    signer: Keypair,
    fee_payer: str,
    pay_to: str,
    mint: str,
    amount: int,
    decimals: int,
    program: str,
    blockhash: Hash,
) -> PreparedTransfer:
    """The payer-signed payment; ``signature`` is the payer's own (slot 1), not the tx id."""
    check_amount(amount)
    fee_payer_key = parse_address(fee_payer)
    if fee_payer_key == signer.pubkey():
        raise WaiaasError("PAYMENT_UNSUPPORTED", "extra.feePayer is this wallet itself.")
    program_id = spl.token_program(program)
    mint_key = parse_address(mint)
    instructions = [
        Instruction(
            COMPUTE_BUDGET_PROGRAM, bytes([2]) + COMPUTE_UNIT_LIMIT.to_bytes(4, "little"), []
        ),
        Instruction(
            COMPUTE_BUDGET_PROGRAM,
            bytes([3]) + COMPUTE_UNIT_PRICE_MICROLAMPORTS.to_bytes(8, "little"),
            [],
        ),
        Instruction(
            program_id,
            bytes([12]) + amount.to_bytes(8, "little") + bytes([decimals]),
            [
                AccountMeta(
                    spl.associated_address(signer.pubkey(), mint_key, program), False, True
                ),
                AccountMeta(mint_key, False, False),
                AccountMeta(spl.associated_address(pay_to, mint_key, program), False, True),
                AccountMeta(signer.pubkey(), True, False),
            ],
        ),
        Instruction(MEMO_PROGRAM_ID, secrets.token_hex(16).encode(), []),
    ]
    message = MessageV0.try_compile(fee_payer_key, instructions, [], blockhash)
    keys = list(message.account_keys)
    signers = message.header.num_required_signatures
    if signers != 2 or keys[1] != signer.pubkey():
        raise WaiaasError("INTERNAL_ERROR", "The payment message has an unexpected signer layout.")
    own = signer.sign_message(to_bytes_versioned(message))
    tx = VersionedTransaction.populate(message, [Signature.default(), own])
    return PreparedTransfer(signature=str(own), raw=bytes(tx))


def encode(prepared: PreparedTransfer) -> str:
    return base64.b64encode(prepared.raw).decode()


def blockhash_of(raw: bytes) -> str:
    return str(VersionedTransaction.from_bytes(raw).message.recent_blockhash)
