"""``evm-local``: the embedded EVM node, durable through the daemon's database.

Opened the first time an EVM wallet uses it (eth libraries and the engine are
imported then, not at daemon start): the chain adapter over the in-process node,
with the node's faucet for airdrops of test ETH and its test USDC's minter for
token airdrops (the registry knows that USDC from the migration that added EVM).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from waiaas_core.networks import EVM_LOCAL

if TYPE_CHECKING:
    from waiaas_core.config import Settings
    from waiaas_daemon.chain.interface import Chain
    from waiaas_daemon.storage import Storage


def open_evm_local(db: Storage, settings: Settings, clock: Callable[[], float]) -> Chain:
    from waiaas_daemon.chain.evm.adapter import EvmChain
    from waiaas_daemon.chain.evm.embedded import EVM_LOCAL_CHAIN_ID, USDC_ADDRESS, EmbeddedNode

    node = EmbeddedNode(db, clock=clock)

    async def mint(address: str, token: str, amount: int) -> str:
        if token.lower() != USDC_ADDRESS.lower():
            from waiaas_core.errors import WaiaasError

            raise WaiaasError(
                "INVALID_REQUEST",
                f"token: evm-local mints its test USDC ({USDC_ADDRESS}) only.",
            )
        return await node.mint_usdc(address, amount)

    return EvmChain(
        EVM_LOCAL,
        node,
        chain_id=EVM_LOCAL_CHAIN_ID,
        native_symbol="ETH",
        confirmations=settings.evm_confirmations.get(EVM_LOCAL, 1),
        max_fee_per_gas=settings.evm_max_fee_per_gas.get(EVM_LOCAL),
        replace_after=settings.evm_replace_after,
        airdrop=node.airdrop,
        mint=mint,
    )
