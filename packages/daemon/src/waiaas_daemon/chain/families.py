"""The registry of chain families: which family a network belongs to, and its keys and adapters.

The EVM family (and with it eth-account) is imported the first time an EVM
network or wallet is used, so a daemon with Solana wallets only never loads it.
"""

from __future__ import annotations

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import EVM, FAMILIES, NETWORK_NAMES, SOLANA, family_of

from .interface import ChainFamily

_loaded: dict[str, ChainFamily] = {}


def family(name: str) -> ChainFamily:
    """The family called ``name`` ("solana" or "evm")."""
    found = _loaded.get(name)
    if found is None:
        if name == SOLANA:
            from .solana import SolanaFamily

            found = SolanaFamily()
        elif name == EVM:
            from .evm.family import EvmFamily

            found = EvmFamily()
        else:
            raise WaiaasError(
                "INVALID_REQUEST", f"chain: must be one of {', '.join(FAMILIES)}, not {name!r}"
            )
        _loaded[name] = found
    return found


def of_network(network: str) -> ChainFamily:
    """The family whose network ``network`` is; 400 naming the field for an unknown one."""
    name = family_of(network)
    if name is None:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"network: unknown network {network!r}; known: {', '.join(NETWORK_NAMES)}",
        )
    return family(name)
