"""The x402 "exact" payment on EVM networks, as its published scheme lays it out.

An EIP-3009 ``transferWithAuthorization`` of exactly the price from the payer to
``payTo``, signed as EIP-712 typed data under the token's own domain (``name`` and
``version`` from the requirements' ``extra``, the network's chain id, the token as
verifying contract). The facilitator submits it and pays the gas; the payer signs
only. The nonce is 32 random bytes and ``validBefore`` is short, both chosen (and
recorded by the caller) before signing; ``authorizationState(from, nonce)`` tells,
after a crash, whether that very authorization was used, and once ``validBefore``
has passed unused it can never be.

eth-account is imported when a payment is first signed, not when the daemon starts.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

# keccak256("authorizationState(address,bytes32)")[:4]
AUTHORIZATION_STATE = bytes.fromhex("e94a0102")
# keccak256("AuthorizationUsed(address,bytes32)"): topic0 of the token's event.
AUTHORIZATION_USED = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
VALID_FOR = 300  # seconds an authorization can be submitted, at most (the 402's own if shorter)
VALID_AFTER_SLACK = 600  # validAfter this far in the past: a facilitator's clock may lag


@dataclass(frozen=True)
class Authorization:
    """What the payer authorizes; every field as the token's EIP-712 message has it."""

    token: str
    chain_id: int
    name: str
    version: str
    sender: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str  # 0x + 64 hex digits

    def typed_data(self) -> dict[str, Any]:
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "TransferWithAuthorization": [
                    {"name": "from", "type": "address"},
                    {"name": "to", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "validAfter", "type": "uint256"},
                    {"name": "validBefore", "type": "uint256"},
                    {"name": "nonce", "type": "bytes32"},
                ],
            },
            "primaryType": "TransferWithAuthorization",
            "domain": {
                "name": self.name,
                "version": self.version,
                "chainId": self.chain_id,
                "verifyingContract": self.token,
            },
            "message": {
                "from": self.sender,
                "to": self.to,
                "value": self.value,
                "validAfter": self.valid_after,
                "validBefore": self.valid_before,
                "nonce": bytes.fromhex(self.nonce.removeprefix("0x")),
            },
        }

    def wire(self) -> dict[str, str]:
        """The payload's ``authorization`` object (decimal strings, as the scheme sends it)."""
        return {
            "from": self.sender,
            "to": self.to,
            "value": str(self.value),
            "validAfter": str(self.valid_after),
            "validBefore": str(self.valid_before),
            "nonce": self.nonce,
        }


def new_nonce() -> str:
    return "0x" + secrets.token_hex(32)


def window(now: int, max_timeout: int | None) -> tuple[int, int]:
    """(validAfter, validBefore): usable from a little before now, for a short while."""
    valid_for = VALID_FOR if not max_timeout or max_timeout <= 0 else min(VALID_FOR, max_timeout)
    return max(0, now - VALID_AFTER_SLACK), now + max(valid_for, 30)


def sign(signer: Any, authorization: Authorization) -> str:
    """The payer's EIP-712 signature (0x + 65 bytes r, s, v) of ``authorization``."""
    from eth_account import Account

    signed = Account.sign_typed_data(signer.key, full_message=authorization.typed_data())
    return "0x" + bytes(signed.signature).hex()


def signer_of(authorization: Authorization, signature: str) -> str:
    """The address that signed (checksum): what a facilitator recovers."""
    from eth_account import Account
    from eth_account.messages import encode_typed_data

    message = encode_typed_data(full_message=authorization.typed_data())
    return str(Account.recover_message(message, signature=signature))


def payload(authorization: Authorization, signature: str) -> dict[str, Any]:
    """The scheme's ``payload``: ``{signature, authorization}``."""
    return {"signature": signature, "authorization": authorization.wire()}


def authorization_state_call(sender: str, nonce: str) -> str:
    """``authorizationState(sender, nonce)`` call data, 0x-hex."""
    address = bytes.fromhex(sender.removeprefix("0x").rjust(64, "0"))
    word = bytes.fromhex(nonce.removeprefix("0x"))
    return "0x" + (AUTHORIZATION_STATE + address + word).hex()


def is_used(answer: str) -> bool:
    """The ``bool`` an ``authorizationState`` call answered."""
    return int(answer or "0x0", 16) != 0
