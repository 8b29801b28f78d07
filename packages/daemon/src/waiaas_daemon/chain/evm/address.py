"""EVM addresses: EIP-55 checksum form, and clear errors for what is not one."""

from __future__ import annotations

from eth_utils import is_checksum_address, to_checksum_address

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import BASE58_ADDRESS_RE
from waiaas_core.networks import looks_evm

ADDRESS_HELP = "an EVM address: 0x followed by 40 hex digits (EIP-55 checksum when mixed case)"


def checksum(text: str, field: str) -> str:
    """``text`` in EIP-55 form, or 400 INVALID_ADDRESS naming ``field``.

    All-lower or all-upper hex is accepted (no checksum to check); mixed case must
    be the right checksum, as wallets check it, because a typo then fails here.
    """
    if not looks_evm(text):
        if BASE58_ADDRESS_RE.match(text):
            raise WaiaasError(
                "INVALID_ADDRESS",
                f"{field}: {text[:50]} is a Solana address, but this is an EVM wallet; "
                f"expected {ADDRESS_HELP}.",
            )
        raise WaiaasError("INVALID_ADDRESS", f"{field}: expected {ADDRESS_HELP}.")
    body = text[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(text):
        raise WaiaasError(
            "INVALID_ADDRESS",
            f"{field}: the EIP-55 checksum (the mixed case) is wrong; check the address.",
        )
    return str(to_checksum_address(text))
