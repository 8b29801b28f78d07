"""The chain interface: what the domain asks of every chain family, whatever the chain.

Two families sit behind it: ``solana`` (``local.py``: LiteSVM in-process,
``rpc.py``: JSON-RPC) and ``evm`` (``evm/``: the embedded ``evm-local`` node
and JSON-RPC networks). ``families.py`` picks the family of a network, so the
domain never branches on a chain's name: it asks the family for keys and
addresses, and the network's ``Chain`` to price, sign, submit and settle.

A send, as ``domain/transactions.py`` drives it under the wallet's lock::

    floor = await chain.sequence_floor(address)        # None: no nonces (Solana)
    sequence = first nonce >= floor that no record holds (db.held_sequences)
    prepared = await chain.prepare_transfer(signer, to, amount, memo, sequence=sequence)
    record SUBMITTED with prepared.signature, prepared.raw, prepared.sequence
    outcome = await chain.submit(prepared)          # the very bytes stored
    later: chain.status(signature) until CONFIRMED | FAILED;
           chain.bump_fee(signer, raw) when a send is stuck (same nonce, same contents)

What differs between families lives inside the adapters: Solana's blockhash
(``sequence`` is None), EVM's nonce, fees, confirmation depth and reorgs.
Amounts are integers of base units (lamports, wei, a token's base units).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from waiaas_core.config import Settings

TxStatus = Literal["PENDING", "SUBMITTED", "CONFIRMED", "FAILED"]
# A family's signing key: solders' Keypair for Solana, eth-account's LocalAccount for EVM.
Signer = Any


@dataclass(frozen=True)
class AccountSnapshot:
    """One account's full state, saved by the storage layer for the local ledger."""

    address: str
    lamports: int
    data: bytes
    owner: str
    executable: bool
    rent_epoch: int


@dataclass(frozen=True)
class PreparedTransfer:
    """A signed transaction, not yet submitted: its signature is known in advance.

    ``sequence`` is the account nonce it was signed with (EVM), None where the
    chain has none (Solana: a blockhash makes each transaction unique).
    """

    signature: str
    raw: bytes  # serialized signed transaction (wire format)
    last_valid_block_height: int | None = None
    sequence: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What the chain says of a transaction.

    ``status`` is SUBMITTED while the chain has not settled it yet (on EVM: not
    mined, or mined fewer blocks deep than the network's confirmation depth),
    CONFIRMED or FAILED (with the chain's reason in ``error``) once it has.
    ``fee`` is what the sender paid in the native coin's base units, when the
    chain says (an EVM receipt: reverted transactions pay too). ``note`` says
    where an unsettled one stands ("mined in block 12, 1 of 3 confirmations").
    ``accounts`` is filled by the Solana local chain only: every account the
    transaction touched, to be saved in the same database step.
    """

    signature: str
    status: TxStatus
    error: str | None = None
    accounts: tuple[AccountSnapshot, ...] = field(default=())
    fee: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class TokenBalance:
    """One token holding of an owner: an SPL/Token-2022 account, or an ERC-20 balance."""

    account: str  # the token account's own address (Solana), the token contract (EVM)
    mint: str
    amount: int  # base units
    decimals: int
    program: str  # TOKEN_PROGRAM or TOKEN_2022_PROGRAM, or "erc20"


@dataclass(frozen=True)
class MintInfo:
    """What a token's own account says of it (an SPL mint, an ERC-20 contract).

    ``extensions`` names every Token-2022 extension the mint carries (empty for
    SPL Token and ERC-20); ``unsupported`` is the subset waiaas refuses to send
    (TransferFeeConfig, TransferHook, ConfidentialTransferMint): non-empty means
    400 UNSUPPORTED_TOKEN. ``symbol`` is the token's own (ERC-20 ``symbol()``).
    """

    mint: str
    decimals: int
    program: str
    supply: int
    mint_authority: str | None
    extensions: tuple[str, ...] = ()
    unsupported: tuple[str, ...] = ()
    symbol: str | None = None


@dataclass(frozen=True)
class TokenTransferCost:
    """Native base units a token transfer takes from the sender, known before signing.

    ``rent`` is the rent-exempt minimum of the recipient's associated token
    account when it does not exist yet (Solana; the transfer creates it), else 0.
    """

    fee: int
    rent: int
    recipient_account: str  # the recipient's associated token account (Solana), or `to`

    @property
    def lamports(self) -> int:
        return self.fee + self.rent


class Chain(Protocol):
    """One network of one chain family, as the send path uses it."""

    network: str
    airdrop_allowed: bool
    # The native coin: ("SOL", 9), ("ETH", 18), ("POL", 18).
    native_symbol: str
    native_decimals: int
    # Seconds after which an unmined transaction is re-signed with a higher fee
    # (``bump_fee``); None where the chain has no such thing (Solana's blockhash expires).
    replace_after: int | None

    async def get_balance(self, address: str) -> int: ...

    async def transfer_fee(self) -> int:
        """Native base units the sender pays at most for a plain transfer."""
        ...

    async def sequence_floor(self, address: str) -> int | None:
        """The lowest nonce ``address`` may still use (EVM: its count at the latest block),
        or None where the chain has no nonces (Solana).

        The domain takes the first nonce at or above it that none of its records
        holds: the next one in line, or a gap a refused transaction left.
        """
        ...

    async def prepare_transfer(
        self,
        signer: Signer,
        to: str,
        amount: int,
        memo: str | None,
        *,
        sequence: int | None = None,
        record: str | None = None,
    ) -> PreparedTransfer:
        """Build and sign a transfer: two identical sends differ (blockhash or nonce).

        ``record`` names the transaction record it is for. Preparing the same record
        again (its first signing was never stored, so never sent) may give the very
        same transaction; two records never get one transaction between them.
        """
        ...

    async def submit(self, prepared: PreparedTransfer) -> Outcome:
        """Hand the very bytes over; a chain that already has them answers as before."""
        ...

    async def status(self, signature: str) -> Outcome | None:
        """The chain's view of a signature, or None if the chain does not know it (any more)."""
        ...

    async def bump_fee(self, signer: Signer, raw: bytes) -> PreparedTransfer | None:
        """The transaction ``raw`` again, same nonce and contents, with a higher fee.

        None where the chain has no replacement (Solana) or the fee may not rise
        (the owner's ceiling is reached).
        """
        ...

    async def airdrop(self, address: str, amount: int) -> Outcome: ...

    async def token_accounts(self, owner: str, known: tuple[str, ...] = ()) -> list[TokenBalance]:
        """The tokens ``owner`` holds, zero balances included.

        Solana lists every token account; an EVM chain cannot enumerate holdings and
        reads the balance of each token in ``known`` (the registry's for the network).
        """
        ...

    async def mint_info(self, mint: str) -> MintInfo:
        """The token's decimals, program and extensions.

        INVALID_ADDRESS for a malformed address; TOKEN_NOT_FOUND when no token is there.
        """
        ...

    async def token_balance(self, owner: str, mint: str, program: str) -> int:
        """Base units of ``mint`` that a token transfer of ``owner`` draws from."""
        ...

    async def token_transfer_cost(
        self, to_owner: str, mint: str, program: str
    ) -> TokenTransferCost:
        """The native coin a transfer of ``mint`` to ``to_owner`` costs (fee, any rent)."""
        ...

    async def prepare_token_transfer(
        self,
        signer: Signer,
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
        """Build and sign a token transfer, like ``prepare_transfer``."""
        ...

    async def aclose(self) -> None: ...


class ChainFamily(Protocol):
    """Keys and addresses of one family; every network of the family shares them.

    One wallet has one key and so one address on every network of its family.
    """

    name: str  # "solana" | "evm"
    address_help: str  # what an address of the family looks like, for error messages

    def new_key(self) -> tuple[bytes, str]:
        """A fresh secret key and its address."""
        ...

    def signer(self, secret: bytes) -> Signer:
        """The signing key of a secret ``new_key`` made."""
        ...

    def check_address(self, text: str, field: str) -> str:
        """The address in its canonical form, or 400 INVALID_ADDRESS naming ``field``."""
        ...

    def open_chain(self, network: str, settings: Settings) -> Chain:
        """The adapter of one of the family's JSON-RPC networks, as configured."""
        ...
