"""The EVM chain family: secp256k1 keys, EIP-55 addresses, its networks' adapters.

One key, one address on every EVM network. This module is imported when an EVM
wallet or network is first used (the daemon's idle memory stays low), and it
defers the heavier parts further: a new wallet needs only coincurve (the key) and
eth-utils (keccak, EIP-55); eth-account (signing) and the adapter load with the
first send or read, so creating the first EVM wallet stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import EVM, NETWORKS

from .address import ADDRESS_HELP, checksum

if TYPE_CHECKING:
    from waiaas_core.config import Settings

    from .adapter import EvmChain


class EvmFamily:
    name = EVM
    address_help = ADDRESS_HELP

    def new_key(self) -> tuple[bytes, str]:
        from coincurve import PrivateKey
        from eth_utils import keccak, to_checksum_address

        key = PrivateKey()  # a uniformly random valid secp256k1 key, from the OS
        public = key.public_key.format(compressed=False)[1:]
        return bytes(key.secret), str(to_checksum_address(keccak(public)[-20:]))

    def signer(self, secret: bytes) -> Any:
        from eth_account import Account

        return Account.from_key(secret)

    def check_address(self, text: str, field: str) -> str:
        return checksum(text, field)

    def open_chain(self, network: str, settings: Settings) -> EvmChain:
        from .adapter import EvmChain
        from .jsonrpc import JsonRpcNode

        info = NETWORKS[network]
        urls = settings.evm_rpc_urls.get(network) or info.rpc_urls
        if not urls:
            raise WaiaasError(
                "INVALID_REQUEST",
                f"network: {network} has no JSON-RPC URL; set [evm.rpc_urls] {network} "
                "in config.toml",
            )
        return EvmChain(
            network,
            JsonRpcNode(urls, timeout=settings.rpc_timeout * 3),
            chain_id=info.chain_id,
            native_symbol=info.native_symbol,
            confirmations=settings.evm_confirmations.get(network, info.confirmations),
            max_fee_per_gas=settings.evm_max_fee_per_gas.get(network),
            replace_after=settings.evm_replace_after,
        )
