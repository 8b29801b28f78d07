"""The Solana chain family: Ed25519 keys (solders), base58 addresses, its JSON-RPC networks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from solders.keypair import Keypair

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import SOLANA, looks_evm

from .base import parse_address
from .rpc import RpcChain

if TYPE_CHECKING:
    from waiaas_core.config import Settings

ADDRESS_HELP = "a Solana address: base58 text of 32 bytes"


class SolanaFamily:
    name = SOLANA
    address_help = ADDRESS_HELP

    def new_key(self) -> tuple[bytes, str]:
        keypair = Keypair()
        return bytes(keypair), str(keypair.pubkey())

    def signer(self, secret: bytes) -> Keypair:
        return Keypair.from_bytes(secret)

    def check_address(self, text: str, field: str) -> str:
        if looks_evm(text):
            raise WaiaasError(
                "INVALID_ADDRESS",
                f"{field}: {text} is an EVM address, but this is a Solana wallet; "
                f"expected {ADDRESS_HELP}.",
            )
        try:
            parse_address(text)
        except WaiaasError:
            raise WaiaasError("INVALID_ADDRESS", f"{field}: expected {ADDRESS_HELP}.") from None
        return text

    def open_chain(self, network: str, settings: Settings) -> RpcChain:
        # rpc_url overrides the endpoint of the configured network only.
        url = settings.rpc_url if network == settings.network and settings.rpc_url else None
        return RpcChain(network, url, timeout=settings.rpc_timeout)
