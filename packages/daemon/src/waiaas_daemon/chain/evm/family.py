"""The EVM chain family: secp256k1 keys (eth-account), EIP-55 addresses, its networks' adapters.

One key, one address on every EVM network. eth-account is imported here, and
this module only when an EVM wallet or network is first used (the daemon's
idle memory stays low).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from eth_account import Account

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import EVM, NETWORKS

from .adapter import EvmChain
from .address import ADDRESS_HELP, checksum
from .jsonrpc import JsonRpcNode

if TYPE_CHECKING:
    from waiaas_core.config import Settings


class EvmFamily:
    name = EVM
    address_help = ADDRESS_HELP

    def new_key(self) -> tuple[bytes, str]:
        account = Account.from_key(secrets.token_bytes(32))
        return bytes(account.key), str(account.address)

    def signer(self, secret: bytes) -> Any:
        return Account.from_key(secret)

    def check_address(self, text: str, field: str) -> str:
        return checksum(text, field)

    def open_chain(self, network: str, settings: Settings) -> EvmChain:
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
