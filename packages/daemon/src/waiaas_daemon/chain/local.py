"""The ``local`` network: solders' LiteSVM in this process, made durable by the daemon's database.

Every Outcome carries snapshots of the accounts its transaction wrote; the daemon
saves them with the transaction record and hands them back at start. Mints and
token accounts are accounts like any other, so they persist the same way; the
keys of the mint authorities are the daemon's to keep (``create_mint`` hands the
secret over, ``hold_mint_authority`` takes it back after a restart).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import solders.transaction_status as ts
from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.transaction import Transaction, VersionedTransaction
from solders.transaction_metadata import TransactionMetadata, TransactionResult

from waiaas_core.errors import WaiaasError

from . import spl
from .base import (
    LAMPORTS_PER_SIGNATURE,
    TOKEN_PROGRAM,
    TOKEN_PROGRAMS,
    AccountSnapshot,
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

# A real cluster accepts a blockhash for about 150 blocks (MAX_PROCESSING_AGE).
RECENT_BLOCKHASHES = 150
# What a mint authority is topped up to before it pays for a mint or an ATA.
AUTHORITY_FLOAT = 1_000_000_000


@dataclass(frozen=True)
class CreatedMint:
    """A new test mint: its address, its authority's keypair bytes, the transaction's outcome.

    ``authority_secret`` is ``bytes(Keypair)`` (64 bytes: secret then public
    key): the daemon seals and persists it, and hands it to
    ``hold_mint_authority`` at the next start.
    """

    mint: str
    authority_secret: bytes
    outcome: Outcome


class LocalChain(SolanaChain):
    """One LiteSVM runtime shared by every wallet of the daemon.

    ``accounts`` (or ``restore()``) loads the snapshots the daemon saved, so
    balances survive a restart. Transaction history lives in memory only:
    ``status()`` of a signature from before the restart is None.
    """

    network = "local"
    airdrop_allowed = True

    def __init__(self, accounts: Iterable[AccountSnapshot] = ()) -> None:
        # Blockhashes are ours, not LiteSVM's: it accepts only its latest one (a
        # transfer prepared while another landed would be refused), and its
        # sequence is the same in every process, so after a restart identical
        # sends would sign to the signatures of the previous run. We draw random
        # ones and keep a cluster's window of recent ones.
        self._authorities: dict[Pubkey, Keypair] = {}
        self._recent: deque[Hash] = deque(maxlen=RECENT_BLOCKHASHES)
        self._recent.append(Hash(secrets.token_bytes(32)))
        self._blockhash_used = False
        # The runtime (about 10 MiB with its programs) is built when the chain is
        # first used, with the saved accounts: an idle daemon does not carry it.
        self._runtime: LiteSVM | None = None
        self._saved: list[AccountSnapshot] = list(accounts)

    @property
    def _svm(self) -> LiteSVM:
        if self._runtime is None:
            self._runtime = LiteSVM().with_blockhash_check(False)
            saved, self._saved = self._saved, []
            self.restore(saved)
        return self._runtime

    def restore(self, snapshots: Iterable[AccountSnapshot]) -> None:
        """Write saved accounts into the runtime; a later snapshot of an address wins."""
        for snap in snapshots:
            account = Account(
                snap.lamports,
                snap.data,
                Pubkey.from_string(snap.owner),
                snap.executable,
                snap.rent_epoch,
            )
            # A zero-lamport account is deleted by the runtime, as on a cluster.
            self._svm.set_account(Pubkey.from_string(snap.address), account)

    def snapshot(self, address: str | Pubkey) -> AccountSnapshot:
        """The account's full state; an account that does not exist has zero lamports."""
        pubkey = address if isinstance(address, Pubkey) else parse_address(address)
        account = self._svm.get_account(pubkey)
        if account is None:
            return AccountSnapshot(str(pubkey), 0, b"", str(SYSTEM_PROGRAM_ID), False, 0)
        return AccountSnapshot(
            address=str(pubkey),
            lamports=account.lamports,
            data=bytes(account.data),
            owner=str(account.owner),
            executable=account.executable,
            rent_epoch=account.rent_epoch,
        )

    def rent_exempt_minimum(self, data_len: int = 0) -> int:
        """Lamports an account of ``data_len`` bytes must keep (890880 for a plain wallet)."""
        return self._svm.minimum_balance_for_rent_exemption(data_len)

    async def get_balance(self, address: str) -> int:
        return self._svm.get_balance(parse_address(address)) or 0

    async def transfer_fee(self) -> int:
        # LiteSVM's fee structure is the cluster default: 5000 lamports a signature.
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
        tx = build_transfer(signer, to, amount, memo, self._fresh_blockhash())
        return PreparedTransfer(signature=str(tx.signatures[0]), raw=bytes(tx))

    async def submit(self, prepared: PreparedTransfer) -> Outcome:
        try:
            tx = Transaction.from_bytes(prepared.raw)
        except ValueError:
            return Outcome(prepared.signature, "FAILED", "invalid transaction: not decodable")
        signature = tx.signatures[0]
        keys = _writable_keys(tx.message)
        seen = self._svm.get_transaction(signature)
        if seen is not None:  # a resubmission: answer with what happened the first time
            return self._outcome(str(signature), seen, keys)
        if tx.message.recent_blockhash not in self._recent:
            error = describe_transaction_error("BlockhashNotFound")
            return Outcome(str(signature), "FAILED", error, self._snapshots(keys))
        result = self._svm.send_transaction(tx)
        self._advance()
        return self._outcome(str(signature), result, keys)

    async def fresh_blockhash(self) -> Hash:
        """A blockhash no other prepared transaction of this runtime has (an x402 payment's)."""
        return self._fresh_blockhash()

    def blockhash_live(self, blockhash: str) -> bool:
        """Would a transaction with this blockhash still be accepted? (Not after a restart.)"""
        try:
            return Hash.from_string(blockhash) in self._recent
        except ValueError:
            return False

    async def submit_raw(self, raw: bytes) -> tuple[Outcome, tuple[str, ...]]:
        """Run a transaction someone else signed (legacy or v0): the local JSON-RPC's
        sendTransaction. Returns the outcome and every signature the transaction carries."""
        try:
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError:
            raise WaiaasError("INVALID_REQUEST", "The transaction is not decodable.") from None
        signatures = tuple(str(sig) for sig in tx.signatures)
        signature = tx.signatures[0]
        keys = _writable_keys(tx.message)  # type: ignore[arg-type]
        seen = self._svm.get_transaction(signature)
        if seen is not None:
            return self._outcome(str(signature), seen, keys), signatures
        if tx.message.recent_blockhash not in self._recent:
            error = describe_transaction_error("BlockhashNotFound")
            return Outcome(str(signature), "FAILED", error), signatures
        result = self._svm.send_transaction(tx)
        self._advance()
        return self._outcome(str(signature), result, keys), signatures

    async def status(self, signature: str) -> Outcome | None:
        try:
            result = self._svm.get_transaction(Signature.from_string(signature))
        except ValueError:
            return None
        return None if result is None else self._outcome(signature, result, ())

    async def airdrop(self, address: str, amount: int) -> Outcome:
        pubkey = parse_address(address)
        check_amount(amount)
        result = self._svm.airdrop(pubkey, amount)
        self._advance()
        meta = result if isinstance(result, TransactionMetadata) else result.meta()
        # The faucet, the other account an airdrop writes, is not snapshotted:
        # each runtime makes a new one with its own key and a fresh supply.
        return self._outcome(str(meta.signature()), result, (pubkey,))

    async def token_accounts(self, owner: str, known: tuple[str, ...] = ()) -> list[TokenBalance]:
        owner_key = parse_address(owner)
        found = []
        for program in TOKEN_PROGRAMS:
            for address, account in self._svm.get_program_accounts(Pubkey.from_string(program)):
                state = spl.parse_token_account(program, bytes(account.data))
                if state is None or state.owner != owner_key:
                    continue
                mint = self._mint(str(state.mint))
                decimals = 0 if mint is None else mint.decimals
                found.append(
                    TokenBalance(str(address), str(state.mint), state.amount, decimals, program)
                )
        return sorted(found, key=lambda balance: (balance.mint, balance.account))

    async def mint_info(self, mint: str) -> MintInfo:
        parse_address(mint)
        info = self._mint(mint)
        if info is None:
            raise WaiaasError("TOKEN_NOT_FOUND", f"There is no token mint at {mint} on local.")
        return info

    async def token_balance(self, owner: str, mint: str, program: str) -> int:
        account = self._svm.get_account(spl.associated_address(owner, mint, program))
        state = None if account is None else spl.parse_token_account(program, bytes(account.data))
        return 0 if state is None else state.amount

    async def token_transfer_cost(
        self, to_owner: str, mint: str, program: str
    ) -> TokenTransferCost:
        recipient = spl.associated_address(to_owner, mint, program)
        owner = self._svm.get_account(parse_address(to_owner))
        spl.check_recipient(to_owner, None if owner is None else str(owner.owner))
        rent = 0
        if self._svm.get_account(recipient) is None:
            rent = self.rent_exempt_minimum(spl.associated_account_size(await self.mint_info(mint)))
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
        missing = self._svm.get_account(spl.associated_address(to_owner, mint, program)) is None
        instructions = spl.transfer_instructions(
            signer.pubkey(), to_owner, mint, amount, decimals, program, create_account=missing
        )
        tx = sign_checked(signer, instructions, memo, self._fresh_blockhash())
        return PreparedTransfer(signature=str(tx.signatures[0]), raw=bytes(tx))

    # -- test mints: local only -------------------------------------------------

    def hold_mint_authority(self, secret: bytes) -> str:
        """Keep a mint authority's keypair (``bytes(Keypair)``) for ``mint_to``; its address."""
        try:
            keypair = Keypair.from_bytes(secret)
        except ValueError:
            raise WaiaasError("INVALID_REQUEST", "A mint authority is 64 keypair bytes.") from None
        self._authorities[keypair.pubkey()] = keypair
        return str(keypair.pubkey())

    async def create_mint(
        self,
        decimals: int,
        *,
        program: str = TOKEN_PROGRAM,
        authority_secret: bytes | None = None,
        transfer_fee: tuple[int, int] | None = None,
    ) -> CreatedMint:
        """A new mint of ``program`` whose mint authority the daemon holds.

        ``authority_secret`` reuses a held authority (a new one is made
        otherwise); ``transfer_fee`` (basis points, maximum fee) makes a
        Token-2022 mint with a TransferFeeConfig extension, for tests of refusal.
        The outcome snapshots the mint and the authority, which pays the rent;
        the mint exists only if ``outcome.status`` is CONFIRMED.
        """
        if not 0 <= decimals <= 255:
            raise WaiaasError("INVALID_REQUEST", "decimals must be between 0 and 255.")
        secret = bytes(Keypair()) if authority_secret is None else authority_secret
        authority = self._authorities[Pubkey.from_string(self.hold_mint_authority(secret))]
        mint = Keypair()
        rent = self.rent_exempt_minimum(spl.mint_size(program, transfer_fee is not None))
        self._float(authority.pubkey())
        instructions = spl.create_mint_instructions(
            authority.pubkey(),
            mint.pubkey(),
            authority.pubkey(),
            decimals,
            program,
            rent,
            transfer_fee,
        )
        message = Message(instructions, authority.pubkey())
        tx = Transaction([authority, mint], message, self._fresh_blockhash())
        outcome = await self._run(tx)
        return CreatedMint(str(mint.pubkey()), bytes(authority), outcome)

    async def mint_to(self, owner_address: str, mint: str, amount: int) -> Outcome:
        """Airdrop of a test token: mint ``amount`` base units to the owner's ATA (made if missing).

        The mint's authority must be held (``create_mint`` or
        ``hold_mint_authority``); it pays the fee and any rent, not the owner.
        """
        owner = parse_address(owner_address)
        check_amount(amount)
        info = await self.mint_info(mint)
        authority = self._authorities.get(
            Pubkey.from_string(info.mint_authority) if info.mint_authority else Pubkey.default()
        )
        if authority is None:
            raise WaiaasError("INVALID_REQUEST", f"The daemon holds no mint authority of {mint}.")
        self._float(authority.pubkey())
        instructions = spl.mint_to_instructions(
            authority.pubkey(), owner, parse_address(mint), authority.pubkey(), amount, info.program
        )
        tx = sign_checked(authority, instructions, None, self._fresh_blockhash())
        return await self._run(tx)

    async def aclose(self) -> None:
        return None

    def _mint(self, mint: str) -> MintInfo | None:
        account = self._svm.get_account(parse_address(mint))
        if account is None:
            return None
        return spl.parse_mint(mint, str(account.owner), bytes(account.data))

    def _float(self, payer: Pubkey) -> None:
        # The authority pays for test mints and airdrop ATAs out of faucet SOL;
        # its account is snapshotted by the transaction it pays for.
        balance = self._svm.get_balance(payer) or 0
        if balance < AUTHORITY_FLOAT // 2:
            self._svm.airdrop(payer, AUTHORITY_FLOAT - balance)
            self._advance()

    async def _run(self, tx: Transaction) -> Outcome:
        result = self._svm.send_transaction(tx)
        self._advance()
        return self._outcome(str(tx.signatures[0]), result, _writable_keys(tx.message))

    def _fresh_blockhash(self) -> Hash:
        # Each prepared transfer gets a blockhash no other one has: two identical
        # sends must be two transactions with two signatures.
        if self._blockhash_used:
            self._advance()
        self._blockhash_used = True
        return self._recent[-1]

    def _advance(self) -> None:
        self._svm.expire_blockhash()  # LiteSVM's own, which its airdrops use
        self._recent.append(Hash(secrets.token_bytes(32)))
        self._blockhash_used = False

    def _snapshots(self, keys: Iterable[Pubkey]) -> tuple[AccountSnapshot, ...]:
        return tuple(self.snapshot(key) for key in keys)

    def _outcome(
        self, signature: str, result: TransactionResult, keys: Iterable[Pubkey]
    ) -> Outcome:
        accounts = self._snapshots(keys)
        if isinstance(result, TransactionMetadata):
            return Outcome(signature, "CONFIRMED", None, accounts)
        error = describe_transaction_error(error_to_json(result.err()), result.meta().logs())
        return Outcome(signature, "FAILED", error, accounts)


def _writable_keys(message: Message) -> tuple[Pubkey, ...]:
    """The accounts a transaction may write: the ones worth snapshotting."""
    header = message.header
    keys = message.account_keys
    signers = header.num_required_signatures
    writable_signers = signers - header.num_readonly_signed_accounts
    writable_end = len(keys) - header.num_readonly_unsigned_accounts
    return tuple(keys[:writable_signers]) + tuple(keys[signers:writable_end])


def error_to_json(err: ts.TransactionErrorType) -> Any:
    """A solders TransactionError in the JSON shape the RPC API uses."""
    if isinstance(err, ts.TransactionErrorInstructionError):
        return {"InstructionError": [err.index, _instruction_error_to_json(err.err)]}
    if isinstance(err, ts.TransactionErrorInsufficientFundsForRent):
        return {"InsufficientFundsForRent": {"account_index": err.account_index}}
    if isinstance(err, ts.TransactionErrorProgramExecutionTemporarilyRestricted):
        return {"ProgramExecutionTemporarilyRestricted": {"account_index": err.account_index}}
    if isinstance(err, ts.TransactionErrorDuplicateInstruction):
        return {"DuplicateInstruction": err.index}
    return _variant_name(err)


def _instruction_error_to_json(err: ts.InstructionErrorType) -> Any:
    if isinstance(err, ts.InstructionErrorCustom):
        return {"Custom": err.code}
    if isinstance(err, ts.InstructionErrorBorshIO):
        return {"BorshIoError": err.value}
    return _variant_name(err)


def _variant_name(err: object) -> str:
    return str(err).rsplit(".", 1)[-1]  # "TransactionErrorFieldless.AccountNotFound"
