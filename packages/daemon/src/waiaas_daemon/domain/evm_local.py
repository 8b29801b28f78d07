"""``evm-local``: the embedded EVM node, durable through the daemon's database.

Opened the first time an EVM wallet uses it (eth libraries and the engine are
imported then, not at daemon start). The node keeps its state in the daemon's
database; this module wires it to the chain adapter and its faucet to airdrops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import EVM_LOCAL

if TYPE_CHECKING:
    from waiaas_core.config import Settings
    from waiaas_daemon.chain.interface import Chain
    from waiaas_daemon.storage import Storage


def open_evm_local(db: Storage, settings: Settings) -> Chain:
    try:
        from waiaas_daemon.chain.evm.embedded import EmbeddedNode  # noqa: F401
    except ImportError:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"network: {EVM_LOCAL} (the embedded EVM) is not available in this build; "
            "use a JSON-RPC EVM network ([evm.rpc_urls]).",
        ) from None
    raise WaiaasError("INVALID_REQUEST", f"network: {EVM_LOCAL} is not wired yet")
