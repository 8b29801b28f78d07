"""A send's story as the owner reads it: which rule set its tier, and where to see it on chain.

Pure functions of what the records and the audit log hold; the tier's rule is
read from the policy that was in force when the send was asked (the audit log
keeps every policy the owner set), so a later change does not rewrite history.
"""

from __future__ import annotations

import json
from typing import Any

from waiaas_core.amounts import format_units

_CEILINGS = (("INSTANT", "instantMax"), ("NOTIFY", "notifyMax"), ("DELAY", "delayMax"))
# Public clusters have a public explorer; the local chains have none.
_CLUSTERS = {"mainnet": "", "devnet": "?cluster=devnet", "testnet": "?cluster=testnet"}
# Each public EVM network's explorer: its name and where a transaction's page is.
_EVM_EXPLORERS = {
    "ethereum": ("Etherscan", "https://etherscan.io"),
    "sepolia": ("Etherscan (Sepolia)", "https://sepolia.etherscan.io"),
    "base": ("Basescan", "https://basescan.org"),
    "base-sepolia": ("Basescan (Sepolia)", "https://sepolia.basescan.org"),
    "arbitrum": ("Arbiscan", "https://arbiscan.io"),
    "arbitrum-sepolia": ("Arbiscan (Sepolia)", "https://sepolia.arbiscan.io"),
    "optimism": ("OP Etherscan", "https://optimistic.etherscan.io"),
    "optimism-sepolia": ("OP Etherscan (Sepolia)", "https://sepolia-optimism.etherscan.io"),
    "polygon": ("Polygonscan", "https://polygonscan.com"),
    "polygon-amoy": ("Polygonscan (Amoy)", "https://amoy.polygonscan.com"),
}


def policy_document(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def rule_text(
    document: dict[str, Any],
    tier: str | None,
    amount: int,
    mint: str | None,
    unit: str,
    decimals: int,
) -> str:
    """Why the send got its tier, from the policy in force when it was asked."""
    if tier is None:
        return "no tier (not a send the policy decides)"
    limits = document if mint is None else (document.get("tokens") or {}).get(mint) or {}
    where = "" if mint is None else f"tokens.{unit}."

    def shown(name: str) -> str:
        return f"{where}{name} ({format_units(int(limits[name]), decimals)} {unit})"

    ceilings = [(t, name) for t, name in _CEILINGS if limits.get(name) is not None]
    if tier != "APPROVAL":
        if not ceilings:
            return "no ceiling is set: every send is instant"
        name = dict(_CEILINGS)[tier]
        if limits.get(name) is None:
            return f"the first ceiling set that holds the amount ({tier.lower()})"
        return f"at most {shown(name)}"
    above_all = ceilings and all(amount > int(limits[name]) for _, name in ceilings)
    if above_all:
        _, top = ceilings[-1]
        return f"above every ceiling (the highest: {shown(top)})"
    passed = [n for n in ("dailyLimit", "monthlyLimit") if limits.get(n) is not None]
    if passed:
        return "it would pass " + " or ".join(shown(n) for n in passed)
    return "the owner's approval was required"


def explorer_url(network: str, signature: str | None) -> str | None:
    """The public explorer's page of a transaction on ``network``; None on a local chain."""
    if not signature:
        return None
    if network in _CLUSTERS:
        return f"https://explorer.solana.com/tx/{signature}{_CLUSTERS[network]}"
    if network in _EVM_EXPLORERS:
        return f"{_EVM_EXPLORERS[network][1]}/tx/{signature}"
    return None


def explorer_name(network: str) -> str:
    if network in _EVM_EXPLORERS:
        return _EVM_EXPLORERS[network][0]
    return "the Solana explorer"
