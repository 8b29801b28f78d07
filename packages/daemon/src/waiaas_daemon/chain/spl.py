"""SPL Token and Token-2022 for both chains: account layouts, extensions, instructions.

Pure functions only. Base layouts come from solders (``solders.token.state``:
Mint, TokenAccount; ``solders.token.associated``: the ATA derivation; the
system program's CreateAccount). Read and written here by hand: the Token-2022
extension list (type-length-value entries after the base layout), which no
library parses, and the five token instructions solders lacks (CreateIdempotent,
TransferChecked, InitializeMint2, MintTo, InitializeTransferFeeConfig): a tag
byte and fixed-width little-endian fields each, their layouts those of the
programs' own ``instruction.rs``. They came from the ``solana`` package's
``spl.token.instructions`` before, whose import (its pydantic RPC models) cost
every daemon's first start, which makes the local test mint, 0.33 s of CPU and
19 MiB; tests/daemon/test_spl_instructions.py checks these bytes against it.
"""

from __future__ import annotations

import struct

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM
from solders.system_program import CreateAccountParams, create_account
from solders.token.associated import get_associated_token_address
from solders.token.state import Mint, TokenAccount

from waiaas_core.errors import WaiaasError

from .base import TOKEN_2022_PROGRAM, TOKEN_PROGRAMS, MintInfo, check_amount, parse_address

MINT_LEN = 82
ACCOUNT_LEN = 165
# Token-2022: an extended account is the base layout padded to ACCOUNT_LEN,
# one account-type byte, then TLV entries (u16 type, u16 length, value).
ACCOUNT_TYPE_MINT = 1
ACCOUNT_TYPE_ACCOUNT = 2
TLV_HEADER = 4

# spl-token-2022's ExtensionType discriminants.
EXTENSION_NAMES = {
    1: "TransferFeeConfig",
    2: "TransferFeeAmount",
    3: "MintCloseAuthority",
    4: "ConfidentialTransferMint",
    5: "ConfidentialTransferAccount",
    6: "DefaultAccountState",
    7: "ImmutableOwner",
    8: "MemoTransfer",
    9: "NonTransferable",
    10: "InterestBearingConfig",
    11: "CpiGuard",
    12: "PermanentDelegate",
    13: "NonTransferableAccount",
    14: "TransferHook",
    15: "TransferHookAccount",
    16: "ConfidentialTransferFeeConfig",
    17: "ConfidentialTransferFeeAmount",
    18: "MetadataPointer",
    19: "TokenMetadata",
    20: "GroupPointer",
    21: "TokenGroup",
    22: "GroupMemberPointer",
    23: "TokenGroupMember",
    24: "ConfidentialMintBurn",
    25: "ScaledUiAmount",
    26: "Pausable",
    27: "PausableAccount",
}
# A fee withheld from the recipient, a program run on every transfer, or
# encrypted balances: the amount sent would not be the amount received or seen.
UNSUPPORTED_EXTENSIONS = frozenset(
    {"TransferFeeConfig", "TransferHook", "ConfidentialTransferMint"}
)
# Mint extension -> (account extension an ATA of that mint gets, its value length).
_ACCOUNT_EXTENSION_FOR = {
    "TransferFeeConfig": ("TransferFeeAmount", 8),
    "NonTransferable": ("NonTransferableAccount", 0),
    "TransferHook": ("TransferHookAccount", 1),
    "Pausable": ("PausableAccount", 0),
}
TRANSFER_FEE_CONFIG_LEN = 108  # two authorities, withheld amount, two TransferFee


def token_program(program: str) -> Pubkey:
    """One of the two token programs, or INVALID_REQUEST."""
    if program not in TOKEN_PROGRAMS:
        raise WaiaasError("INVALID_REQUEST", "program must be SPL Token or Token-2022.")
    return Pubkey.from_string(program)


def associated_address(owner: str | Pubkey, mint: str | Pubkey, program: str) -> Pubkey:
    """The owner's associated token account of ``mint`` under ``program``."""
    owner_key = owner if isinstance(owner, Pubkey) else parse_address(owner)
    mint_key = mint if isinstance(mint, Pubkey) else parse_address(mint)
    return get_associated_token_address(owner_key, mint_key, token_program(program))


def check_recipient(to_owner: str, owner_program: str | None) -> None:
    """INVALID_ADDRESS when ``to_owner`` is a token account or a mint, not a wallet.

    Tokens sent "to" a token account would land in an ATA that the token
    account owns, which nobody can ever sign for.
    """
    if owner_program in TOKEN_PROGRAMS:
        raise WaiaasError(
            "INVALID_ADDRESS",
            f"{to_owner} is a token account or a mint; send to the wallet address that owns it.",
        )


def extensions(data: bytes, account_type: int) -> tuple[str, ...] | None:
    """Names of the Token-2022 extensions of a mint or account, or None if ``data`` is not one.

    ``data`` of exactly the base length has no extensions. An unknown
    discriminant is named ``Unknown(n)``.
    """
    base = MINT_LEN if account_type == ACCOUNT_TYPE_MINT else ACCOUNT_LEN
    if len(data) == base:
        return ()
    if len(data) <= ACCOUNT_LEN or data[ACCOUNT_LEN] != account_type:
        return None
    if any(data[base:ACCOUNT_LEN]):  # the padding of a mint is zeros
        return None
    names: list[str] = []
    offset = ACCOUNT_LEN + 1
    while offset + TLV_HEADER <= len(data):
        kind, length = struct.unpack_from("<HH", data, offset)
        if kind == 0:  # Uninitialized: the rest is unused space
            break
        offset += TLV_HEADER + length
        if offset > len(data):
            return None
        names.append(EXTENSION_NAMES.get(kind, f"Unknown({kind})"))
    return tuple(names)


def parse_mint(address: str, program: str, data: bytes) -> MintInfo | None:
    """A mint account's state, or None if the data is not an initialized mint of ``program``."""
    if program not in TOKEN_PROGRAMS or len(data) < MINT_LEN:
        return None
    names = extensions(data, ACCOUNT_TYPE_MINT)
    if names is None or (names and program != TOKEN_2022_PROGRAM):
        return None
    try:
        mint = Mint.from_bytes(data[:MINT_LEN])
    except ValueError:
        return None
    if not mint.is_initialized:
        return None
    authority = mint.mint_authority
    return MintInfo(
        mint=address,
        decimals=mint.decimals,
        program=program,
        supply=mint.supply,
        mint_authority=None if authority is None else str(authority),
        extensions=names,
        unsupported=tuple(name for name in names if name in UNSUPPORTED_EXTENSIONS),
    )


def parse_token_account(program: str, data: bytes) -> TokenAccount | None:
    """A token account's state (mint, owner, amount), or None if the data is not one."""
    if program not in TOKEN_PROGRAMS or len(data) < ACCOUNT_LEN:
        return None
    names = extensions(data, ACCOUNT_TYPE_ACCOUNT)
    if names is None or (names and program != TOKEN_2022_PROGRAM):
        return None
    try:
        return TokenAccount.from_bytes(data[:ACCOUNT_LEN])
    except ValueError:
        return None


def associated_account_size(mint: MintInfo) -> int:
    """Bytes of a new associated token account of ``mint``: what its rent is computed on.

    Token-2022 ATAs carry ImmutableOwner, and the account side of some mint
    extensions (the ATA program asks the token program, GetAccountDataSize).
    """
    if mint.program != TOKEN_2022_PROGRAM:
        return ACCOUNT_LEN
    size = ACCOUNT_LEN + 1 + TLV_HEADER  # account type, ImmutableOwner (no value)
    for name in mint.extensions:
        if name in _ACCOUNT_EXTENSION_FOR:
            size += TLV_HEADER + _ACCOUNT_EXTENSION_FOR[name][1]
    return size


def mint_size(program: str, transfer_fee: bool) -> int:
    """Bytes of a new mint: the base layout, or with a TransferFeeConfig extension."""
    if not transfer_fee:
        return MINT_LEN
    if program != TOKEN_2022_PROGRAM:
        raise WaiaasError("INVALID_REQUEST", "Only Token-2022 mints have transfer fees.")
    return ACCOUNT_LEN + 1 + TLV_HEADER + TRANSFER_FEE_CONFIG_LEN


# -- the token instructions (spl-token's and spl-associated-token-account's layouts) --

ASSOCIATED_TOKEN_PROGRAM = Pubkey.from_string("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL")
_MINT_TO = 7
_TRANSFER_CHECKED = 12
_INITIALIZE_MINT2 = 20
_TRANSFER_FEE_EXTENSION = 26  # Token-2022; its first sub-instruction:
_INITIALIZE_TRANSFER_FEE_CONFIG = 0
_CREATE_IDEMPOTENT = 1  # the associated token account program's


def _optional_key(key: Pubkey | None) -> bytes:
    """A ``COption<Pubkey>`` as the token programs read it from instruction data."""
    return b"\x00" if key is None else b"\x01" + bytes(key)


def _writable(key: Pubkey, *, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=True)


def _readonly(key: Pubkey, *, signer: bool = False) -> AccountMeta:
    return AccountMeta(key, is_signer=signer, is_writable=False)


def create_idempotent_ata(
    payer: Pubkey, owner: Pubkey, mint: Pubkey, program: Pubkey
) -> Instruction:
    """The owner's associated token account, created unless it exists already."""
    return Instruction(
        ASSOCIATED_TOKEN_PROGRAM,
        bytes([_CREATE_IDEMPOTENT]),
        [
            _writable(payer, signer=True),
            _writable(get_associated_token_address(owner, mint, program)),
            _readonly(owner),
            _readonly(mint),
            _readonly(SYSTEM_PROGRAM),
            _readonly(program),
        ],
    )


def initialize_mint2(
    program: Pubkey, mint: Pubkey, decimals: int, authority: Pubkey, freeze: Pubkey | None = None
) -> Instruction:
    # The freeze authority's option takes its 33 bytes even when absent (zeros after the
    # 0 tag), as spl-token's own packing writes it; the program ignores what follows.
    freezer = b"\x00" + bytes(32) if freeze is None else _optional_key(freeze)
    data = struct.pack("<BB", _INITIALIZE_MINT2, decimals) + bytes(authority) + freezer
    return Instruction(program, data, [_writable(mint)])


def initialize_transfer_fee_config(
    program: Pubkey, mint: Pubkey, authority: Pubkey, basis_points: int, maximum_fee: int
) -> Instruction:
    """Token-2022's TransferFeeConfig; ``authority`` may change the fee and withdraw it."""
    data = (
        struct.pack("<BB", _TRANSFER_FEE_EXTENSION, _INITIALIZE_TRANSFER_FEE_CONFIG)
        + _optional_key(authority)
        + _optional_key(authority)
        + struct.pack("<HQ", basis_points, maximum_fee)
    )
    return Instruction(program, data, [_writable(mint)])


def mint_to(
    program: Pubkey, mint: Pubkey, destination: Pubkey, authority: Pubkey, amount: int
) -> Instruction:
    return Instruction(
        program,
        struct.pack("<BQ", _MINT_TO, amount),
        [_writable(mint), _writable(destination), _readonly(authority, signer=True)],
    )


def transfer_checked(
    program: Pubkey,
    source: Pubkey,
    mint: Pubkey,
    destination: Pubkey,
    owner: Pubkey,
    amount: int,
    decimals: int,
) -> Instruction:
    return Instruction(
        program,
        struct.pack("<BQB", _TRANSFER_CHECKED, amount, decimals),
        [
            _writable(source),
            _readonly(mint),
            _writable(destination),
            _readonly(owner, signer=True),
        ],
    )


def create_mint_instructions(
    payer: Pubkey,
    mint: Pubkey,
    authority: Pubkey,
    decimals: int,
    program: str,
    rent: int,
    transfer_fee: tuple[int, int] | None = None,
) -> list[Instruction]:
    """Create and initialize a mint; ``transfer_fee`` is (basis points, maximum fee)."""
    program_id = token_program(program)
    space = mint_size(program, transfer_fee is not None)
    instructions = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer, to_pubkey=mint, lamports=rent, space=space, owner=program_id
            )
        )
    ]
    if transfer_fee is not None:  # extensions are initialized before the mint itself
        basis_points, maximum_fee = transfer_fee
        instructions.append(
            initialize_transfer_fee_config(program_id, mint, authority, basis_points, maximum_fee)
        )
    instructions.append(initialize_mint2(program_id, mint, decimals, authority))
    return instructions


def mint_to_instructions(
    payer: Pubkey, owner: Pubkey, mint: Pubkey, authority: Pubkey, amount: int, program: str
) -> list[Instruction]:
    """Create the owner's ATA if missing, then mint ``amount`` base units into it."""
    check_amount(amount)
    program_id = token_program(program)
    return [
        create_idempotent_ata(payer, owner, mint, program_id),
        mint_to(
            program_id,
            mint,
            get_associated_token_address(owner, mint, program_id),
            authority,
            amount,
        ),
    ]


def transfer_instructions(
    sender: Pubkey,
    to_owner: str,
    mint: str,
    amount: int,
    decimals: int,
    program: str,
    *,
    create_account: bool,
) -> list[Instruction]:
    """ATA to ATA TransferChecked, preceded by CreateIdempotent when the recipient has none."""
    check_amount(amount)
    if not 0 <= decimals <= 255:
        raise WaiaasError("INVALID_REQUEST", "decimals must be between 0 and 255.")
    program_id = token_program(program)
    owner_key, mint_key = parse_address(to_owner), parse_address(mint)
    instructions = []
    if create_account:
        instructions.append(create_idempotent_ata(sender, owner_key, mint_key, program_id))
    instructions.append(
        transfer_checked(
            program_id,
            get_associated_token_address(sender, mint_key, program_id),
            mint_key,
            get_associated_token_address(owner_key, mint_key, program_id),
            sender,
            amount,
            decimals,
        )
    )
    return instructions
