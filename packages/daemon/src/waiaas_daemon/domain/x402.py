"""The x402 wire format (HTTP 402 Payment Required), versions 1 and 2, "exact" scheme on
Solana and EVM networks.

Pure functions: read a 402 answer's payment requirements, pick the one this
wallet can pay, write the payment header, read the settlement receipt. The
field names and headers follow the published x402 specification (v2: headers
PAYMENT-REQUIRED / PAYMENT-SIGNATURE / PAYMENT-RESPONSE, base64 JSON; v1: the
402 body ``{x402Version: 1, accepts}``, X-PAYMENT / X-PAYMENT-RESPONSE).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_AMOUNT

SCHEME = "exact"
REQUIRED_HEADER = "PAYMENT-REQUIRED"
SIGNATURE_HEADER = "PAYMENT-SIGNATURE"
RESPONSE_HEADER = "PAYMENT-RESPONSE"
V1_PAYMENT_HEADER = "X-PAYMENT"
V1_RESPONSE_HEADER = "X-PAYMENT-RESPONSE"
MAX_HEADER = 16 * 1024

# The x402 network ids of each waiaas network: the v1 name and the CAIP-2 id.
# ``local`` is ours: no public x402 party pays on it, so its ids are made up
# in the same two shapes (docs/notes/x402.md).
SOLANA_IDS: dict[str, tuple[str, ...]] = {
    "mainnet": ("solana", "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"),
    "devnet": ("solana-devnet", "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
    "testnet": ("solana-testnet", "solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z"),
    "local": ("solana-localnet", "solana:localnet"),
}
# The x402 v1 names of the EVM networks that have one (the published spec's list);
# every EVM network also has its CAIP-2 id, eip155:<chain id>.
EVM_V1_NAMES = {
    "base": "base",
    "base-sepolia": "base-sepolia",
    "polygon": "polygon",
    "polygon-amoy": "polygon-amoy",
}
EVM_LOCAL_CHAIN_ID = 31_338  # chain/evm/embedded.py's, restated: importing it loads nothing


def _evm_ids() -> dict[str, tuple[str, ...]]:
    from waiaas_core.networks import EVM, EVM_LOCAL, NETWORK_LIST

    ids: dict[str, tuple[str, ...]] = {}
    for info in NETWORK_LIST:
        if info.family != EVM:
            continue
        chain_id = info.chain_id if info.name != EVM_LOCAL else EVM_LOCAL_CHAIN_ID
        v1 = EVM_V1_NAMES.get(info.name)
        ids[info.name] = (*((v1,) if v1 else ()), f"eip155:{chain_id}")
    return ids


# The x402 network ids of each waiaas network: the v1 name (where there is one) and the
# CAIP-2 id. ``local`` is ours: no public x402 party pays on it, so its ids are made up
# in the same two shapes (docs/notes/x402.md).
NETWORK_IDS: dict[str, tuple[str, ...]] = {**SOLANA_IDS, **_evm_ids()}


def network_of(x402_network: str) -> str | None:
    """The waiaas network an x402 network id names, or None."""
    for network, ids in NETWORK_IDS.items():
        if x402_network in ids:
            return network
    return None


def is_evm(x402_network: str) -> bool:
    return x402_network.startswith("eip155:") or x402_network in EVM_V1_NAMES.values()


@dataclass(frozen=True)
class Requirement:
    """One entry of a 402 answer's ``accepts``: what the resource takes, as sent."""

    version: int
    scheme: str
    network: str
    amount: int
    asset: str
    pay_to: str
    fee_payer: str | None
    raw: dict[str, Any] = field(hash=False, compare=False)
    # EVM: the token's EIP-712 domain (``extra.name``, ``extra.version``).
    token_name: str | None = None
    token_version: str | None = None
    max_timeout: int | None = None


@dataclass(frozen=True)
class Challenge:
    version: int
    accepts: tuple[Requirement, ...]
    resource: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class Receipt:
    """The settlement a paid answer reports (PAYMENT-RESPONSE / X-PAYMENT-RESPONSE)."""

    success: bool
    transaction: str | None
    network: str | None
    amount: str | None
    error: str | None


def _bad(why: str) -> WaiaasError:
    return WaiaasError("PAYMENT_FAILED", f"The resource's 402 answer is not valid x402: {why}.")


def _decode_b64_json(value: str, what: str) -> Any:
    if len(value) > MAX_HEADER:
        raise _bad(f"{what} is over {MAX_HEADER} bytes")
    try:
        return json.loads(base64.b64decode(value.strip(), validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad(f"{what} is not base64 JSON") from None


def parse_challenge(headers: Mapping[str, str], body: bytes) -> Challenge:
    """The payment requirements of a 402 answer: v2 header first, else a v1 JSON body."""
    header = headers.get(REQUIRED_HEADER)
    if header is not None:
        document = _decode_b64_json(header, REQUIRED_HEADER)
    else:
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _bad("no PAYMENT-REQUIRED header and the body is not JSON") from None
    if not isinstance(document, dict):
        raise _bad("the requirements are not a JSON object")
    version = document.get("x402Version")
    if version not in (1, 2):
        raise _bad(f"x402Version {version!r} is not 1 or 2")
    accepts = document.get("accepts")
    if not isinstance(accepts, list) or not accepts or len(accepts) > 32:
        raise _bad("accepts must be a list of 1 to 32 requirements")
    resource = document.get("resource")
    error = document.get("error")
    return Challenge(
        version,
        tuple(_requirement(version, entry) for entry in accepts if isinstance(entry, dict)),
        resource if isinstance(resource, dict) else None,
        error if isinstance(error, str) else None,
    )


def _requirement(version: int, entry: dict[str, Any]) -> Requirement:
    amount_field = "amount" if version == 2 else "maxAmountRequired"
    amount_text = entry.get(amount_field)
    amount = -1
    if isinstance(amount_text, str) and amount_text.isascii() and amount_text.isdigit():
        amount = int(amount_text) if len(amount_text) <= 20 else -1
    extra = entry.get("extra")
    if not isinstance(extra, dict):
        extra = {}
    fee_payer = extra.get("feePayer")
    name, domain_version = extra.get("name"), extra.get("version")
    timeout = entry.get("maxTimeoutSeconds")
    return Requirement(
        version=version,
        scheme=str(entry.get("scheme", "")),
        network=str(entry.get("network", "")),
        amount=amount,
        asset=str(entry.get("asset", "")),
        pay_to=str(entry.get("payTo", "")),
        fee_payer=fee_payer if isinstance(fee_payer, str) else None,
        raw=entry,
        token_name=name[:100] if isinstance(name, str) else None,
        token_version=domain_version[:20] if isinstance(domain_version, str) else None,
        max_timeout=timeout if isinstance(timeout, int) and not isinstance(timeout, bool) else None,
    )


def canonical(network: str) -> str:
    """One name per network: an x402 v1 name or a CAIP-2 id of the same network give the
    same answer (``solana-devnet`` and ``solana:EtWT...`` both name devnet), and so does
    waiaas's own name of it (``devnet``, ``sepolia``, ``evm-local``)."""
    for name, ids in NETWORK_IDS.items():
        if network in ids or network == name:
            return ids[-1]
    return network


def candidates(
    challenge: Challenge, networks: Sequence[str], preferred: Sequence[str] = ()
) -> list[Requirement]:
    """The requirements this wallet could pay, in the order to try them (docs/policy.md,
    "Several ways to pay"): only the ``exact`` scheme on a network in ``networks`` (the
    wallet's own, as narrowed by the owner), with a valid amount and the extra the scheme
    needs; those on the owner's ``preferred`` networks first, in that order; then the
    resource's own order. None: PAYMENT_UNSUPPORTED saying why each was left."""
    reasons = []
    payable = []
    for req in challenge.accepts:
        if req.scheme != SCHEME:
            reasons.append(f"scheme {req.scheme[:40]!r} (only 'exact')")
        elif req.network not in networks:
            reasons.append(f"network {req.network[:64]!r} (accepted: {', '.join(networks)})")
        elif not 0 < req.amount <= MAX_AMOUNT:
            reasons.append("an amount that is not a positive integer below 2^64")
        elif is_evm(req.network) and not (req.token_name and req.token_version):
            reasons.append("no extra.name/version (the token's EIP-712 domain)")
        elif not is_evm(req.network) and not req.fee_payer:
            reasons.append("no extra.feePayer (the exact scheme needs the facilitator's)")
        else:
            payable.append(req)
    if not payable:
        raise WaiaasError(
            "PAYMENT_UNSUPPORTED",
            "The resource asks for no payment this wallet makes: " + "; ".join(reasons) + ".",
        )
    order = [canonical(n) for n in preferred]

    def rank(req: Requirement) -> int:
        name = canonical(req.network)
        return order.index(name) if name in order else len(order)

    return sorted(payable, key=rank)  # stable: the resource's order among equals


def choose(
    challenge: Challenge, networks: Sequence[str], preferred: Sequence[str] = ()
) -> Requirement:
    """The first of ``candidates``."""
    return candidates(challenge, networks, preferred)[0]


def payment_header(
    challenge: Challenge, req: Requirement, scheme_payload: dict[str, Any]
) -> tuple[str, str]:
    """(header name, value) carrying the scheme's payload for ``req``: Solana's
    ``{transaction}`` (partially signed, base64), EVM's ``{signature, authorization}``."""
    if req.version == 1:
        payload: dict[str, Any] = {
            "x402Version": 1,
            "scheme": req.scheme,
            "network": req.network,
            "payload": scheme_payload,
        }
        name = V1_PAYMENT_HEADER
    else:
        payload = {
            "x402Version": 2,
            "accepted": req.raw,
            "payload": scheme_payload,
        }
        if challenge.resource is not None:
            payload["resource"] = challenge.resource
        name = SIGNATURE_HEADER
    text = json.dumps(payload, separators=(",", ":"))
    return name, base64.b64encode(text.encode()).decode()


def parse_receipt(headers: Mapping[str, str]) -> Receipt | None:
    """The settlement receipt of a paid answer, or None when it sent none (or garbage)."""
    value = headers.get(RESPONSE_HEADER) or headers.get(V1_RESPONSE_HEADER)
    if value is None:
        return None
    try:
        document = _decode_b64_json(value, RESPONSE_HEADER)
    except WaiaasError:
        return None
    if not isinstance(document, dict):
        return None

    def text(name: str) -> str | None:
        value = document.get(name)
        return value[:200] if isinstance(value, str) else None

    return Receipt(
        success=document.get("success") is True,
        transaction=text("transaction"),
        network=text("network"),
        amount=text("amount"),
        error=text("errorReason") or text("errorMessage"),
    )
