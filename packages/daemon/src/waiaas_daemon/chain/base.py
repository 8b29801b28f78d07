"""The chain adapter interface the daemon's send, balance and airdrop routes use.

Two implementations: ``local`` (LiteSVM in-process, durable through the
database) and ``rpc`` (Solana JSON-RPC over httpx for devnet/testnet/mainnet
or a configured rpc_url).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from solders.keypair import Keypair

TxStatus = Literal["PENDING", "SUBMITTED", "CONFIRMED", "FAILED"]


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
    """A signed transaction, not yet submitted: its signature is known in advance."""

    signature: str
    raw: bytes  # serialized signed transaction (wire format)
    last_valid_block_height: int | None = None


@dataclass(frozen=True)
class Outcome:
    """What the chain says of a transaction.

    ``status`` is SUBMITTED while the cluster has not settled it yet, CONFIRMED
    or FAILED (with the chain's reason in ``error``) once it has.
    ``accounts`` is filled by the local chain only: every account the
    transaction touched, to be saved in the same database step.
    """

    signature: str
    status: TxStatus
    error: str | None = None
    accounts: tuple[AccountSnapshot, ...] = field(default=())


class Chain(Protocol):
    network: str
    airdrop_allowed: bool

    async def get_balance(self, address: str) -> int: ...

    async def transfer_fee(self) -> int:
        """Lamports the fee payer pays for a one-signature transfer."""
        ...

    async def prepare_transfer(
        self, signer: Keypair, to: str, amount: int, memo: str | None
    ) -> PreparedTransfer:
        """Build and sign a transfer with a fresh blockhash (two identical sends differ)."""
        ...

    async def submit(self, prepared: PreparedTransfer) -> Outcome: ...

    async def status(self, signature: str) -> Outcome | None:
        """The chain's view of a signature, or None if the chain never saw it."""
        ...

    async def airdrop(self, address: str, amount: int) -> Outcome: ...

    async def aclose(self) -> None: ...
