"""``EmbeddedNode``: the ``evm-local`` network, an EVM in this process (py-evm), durable
through the daemon's database.

It answers the Ethereum JSON-RPC methods a wallet uses (``METHODS``) with the
wire values a real node gives, and enforces what a real node does: signatures,
EIP-155 (a transaction must be signed for ``EVM_LOCAL_CHAIN_ID``; a legacy one
without a chain id is refused), nonces (too low refused, too high queued until
the gap is filled, same nonce replaced only with fees 10 % higher), balances,
intrinsic gas, the block's base fee and gas limit. Blocks follow Prague
(EIP-1559 base fee, receipts with logs and blooms). With ``automine`` (the
default) each transaction that can run is mined at once in its own block;
without it transactions wait in the pool until ``mine()``.

Durability: py-evm keeps everything (state trie, blocks, receipts, the
transaction index) in a key-value store. The node keeps that store in memory
and, after each mined block, writes the keys it changed to the database
(``EvmLocalStore``); at start it loads them all back. The transaction pool is
memory only, like a node's mempool: a queued transaction is lost on restart
(the daemon rebroadcasts the raw bytes it stored).

Local-only helpers (the wire has no such methods): ``airdrop(address, wei)``
sends test ETH from the faucet, ``mint_usdc(address, amount)`` mints the test
USDC deployed in block 1 at ``USDC_ADDRESS``; both are real transactions of the
faucet account, with receipts. The faucet's key is public (``FAUCET_KEY``):
evm-local's coins are worth nothing.

Everything heavy (py-evm, eth-account) is imported when the node first opens,
in a worker thread, so the daemon stays light until an EVM network is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread

from .node import EvmRpcError

if TYPE_CHECKING:
    from ._engine import Engine

NETWORK = "evm-local"
# Not a public chain's id (anvil and Hardhat use 31337, Ganache 1337): a
# transaction signed for evm-local is refused by them and the reverse.
EVM_LOCAL_CHAIN_ID = 31_338
# keccak256(b"waiaas evm-local faucet"): public on purpose, test coins only.
FAUCET_KEY = "0x3b031f072c2d2dac644dad0905bf1ef05705b5e76ba3d460231859b6c68e13c5"
FAUCET_ADDRESS = "0x289196d5111C45813ed74479432917B2043858eF"
# The faucet's first transaction (block 1) deploys the test USDC, its minter the faucet.
USDC_ADDRESS = "0x0312eaBB9E6856FCaeD2E12746FC4dc4129872E1"
USDC_DECIMALS = 6

Clock = Callable[[], float]


class EvmLocalStore(Protocol):
    """Where the embedded chain's key-value store lives (``Storage`` implements it)."""

    async def load_evm_local(self) -> list[tuple[bytes, bytes]]:
        """Every stored (key, value) pair."""
        ...

    async def save_evm_local(self, changes: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Write ``changes`` in one transaction (``None`` deletes the key)."""
        ...


class EmbeddedNode:
    """The evm-local chain: one per daemon, opened on its first request.

    ``clock`` (Unix seconds) stamps the blocks; ``automine`` mines each
    transaction as it arrives.
    """

    network = NETWORK
    chain_id = EVM_LOCAL_CHAIN_ID
    usdc_address = USDC_ADDRESS
    faucet_address = FAUCET_ADDRESS

    def __init__(self, store: EvmLocalStore, *, clock: Clock = time.time, automine: bool = True):
        self._store = store
        self._clock = clock
        self._automine = automine
        self._engine: Engine | None = None
        self._lock = anyio.Lock()
        self._closed = False

    async def _open(self) -> Engine:
        if self._closed:
            raise RuntimeError("the evm-local node is closed")
        if self._engine is None:
            rows = await self._store.load_evm_local()
            from ._engine import Engine

            engine = await anyio.to_thread.run_sync(
                lambda: Engine(
                    rows, chain_id=EVM_LOCAL_CHAIN_ID, clock=self._clock, faucet_key=FAUCET_KEY
                )
            )
            engine.automine = self._automine
            await self._store.save_evm_local(engine.take_changes())
            self._engine = engine
        return self._engine

    async def _run(self, work: Callable[[Engine], Any]) -> Any:
        async with self._lock:
            engine = await self._open()
            try:
                return await anyio.to_thread.run_sync(lambda: work(engine))
            finally:
                changes = engine.take_changes()
                if changes:
                    try:
                        await self._store.save_evm_local(changes)
                    except BaseException:
                        # Kept for the next save: the database never misses a key
                        # the chain in memory already relies on.
                        engine.keep_changes(changes)
                        raise

    async def request(self, method: str, params: list[Any]) -> Any:
        if not isinstance(params, list):
            raise EvmRpcError(-32602, "params must be an array")
        return await self._run(lambda engine: engine.dispatch(method, params))

    async def airdrop(self, address: str, wei: int) -> str:
        """Send ``wei`` of test ETH from the faucet; answers the transaction hash."""
        return str(await self._run(lambda engine: engine.airdrop(address, wei)))

    async def mint_usdc(self, address: str, amount: int) -> str:
        """Mint ``amount`` base units (6 decimals) of the test USDC; answers the hash."""
        return str(await self._run(lambda engine: engine.mint_usdc(address, amount)))

    async def mine(self, blocks: int = 1) -> None:
        """Mine ``blocks`` blocks (with whatever the pool can run); for ``automine=False``."""
        await self._run(lambda engine: engine.mine(blocks))

    async def set_automine(self, on: bool) -> None:
        self._automine = on

        def apply(engine: Engine) -> None:
            engine.automine = on
            if on:
                engine.mine_ready()

        await self._run(apply)

    async def aclose(self) -> None:
        async with self._lock:
            self._closed = True
            self._engine = None
