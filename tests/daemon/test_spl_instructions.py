"""The token instructions chain/spl.py packs, byte for byte those of the ``solana`` package.

The daemon builds five SPL instructions itself (tag byte and little-endian fields)
instead of importing ``spl.token.instructions`` (0.33 s of CPU and 19 MiB at the
first start). solana-py stays a test dependency to check them: same program, data,
accounts, signer and writable flags, over random keys and amounts. The local chain's
tests run them on the real token programs too.
"""

from __future__ import annotations

import random

import pytest
import spl.token.instructions as reference
from solders.pubkey import Pubkey
from spl.token.models import (
    InitializeMint2Params,
    InitializeTransferFeeConfigParams,
    MintToParams,
    TransferCheckedParams,
)

from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_2022_PROGRAM, TOKEN_PROGRAM

PROGRAMS = [Pubkey.from_string(TOKEN_PROGRAM), Pubkey.from_string(TOKEN_2022_PROGRAM)]
CASES = range(20)


def keys(n: int) -> list[Pubkey]:
    return [Pubkey.new_unique() for _ in range(n)]


def same(ours, theirs) -> None:
    assert ours.program_id == theirs.program_id
    assert bytes(ours.data) == bytes(theirs.data)
    assert ours.accounts == theirs.accounts


@pytest.mark.parametrize("case", CASES)
def test_transfer_checked_and_create_idempotent(case):
    rng = random.Random(case)
    program = rng.choice(PROGRAMS)
    source, mint, dest, owner = keys(4)
    amount, decimals = rng.randrange(2**64), rng.randrange(256)
    same(
        spl.transfer_checked(program, source, mint, dest, owner, amount, decimals),
        reference.transfer_checked(
            TransferCheckedParams(
                program_id=program,
                source=source,
                mint=mint,
                dest=dest,
                owner=owner,
                amount=amount,
                decimals=decimals,
            )
        ),
    )
    same(
        spl.create_idempotent_ata(source, owner, mint, program),
        reference.create_idempotent_associated_token_account(source, owner, mint, program),
    )


@pytest.mark.parametrize("case", CASES)
def test_mint_to_and_initialize_mint2(case):
    rng = random.Random(case)
    program = rng.choice(PROGRAMS)
    mint, dest, authority, freeze = keys(4)
    amount, decimals = rng.randrange(2**64), rng.randrange(256)
    same(
        spl.mint_to(program, mint, dest, authority, amount),
        reference.mint_to(
            MintToParams(
                program_id=program, mint=mint, dest=dest, mint_authority=authority, amount=amount
            )
        ),
    )
    for freezer in (None, freeze):
        same(
            spl.initialize_mint2(program, mint, decimals, authority, freezer),
            reference.initialize_mint2(
                InitializeMint2Params(
                    decimals=decimals,
                    program_id=program,
                    mint=mint,
                    mint_authority=authority,
                    freeze_authority=freezer,
                )
            ),
        )


@pytest.mark.parametrize("case", CASES)
def test_initialize_transfer_fee_config(case):
    rng = random.Random(case)
    program = Pubkey.from_string(TOKEN_2022_PROGRAM)
    mint, authority = keys(2)
    basis_points, maximum = rng.randrange(10_001), rng.randrange(2**64)
    same(
        spl.initialize_transfer_fee_config(program, mint, authority, basis_points, maximum),
        reference.initialize_transfer_fee_config(
            InitializeTransferFeeConfigParams(
                program_id=program,
                mint=mint,
                transfer_fee_config_authority=authority,
                withdraw_withheld_authority=authority,
                transfer_fee_basis_points=basis_points,
                maximum_fee=maximum,
            )
        ),
    )
