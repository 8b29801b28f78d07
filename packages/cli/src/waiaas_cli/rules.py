"""Wallet policy and session constraints as lines a person reads: SOL, each token in its
own units (from the daemon's token registry), dollars; never raw base units when the
token is known.

Pure functions over the API's JSON, shared by `waiaas policy show` and the
report of `waiaas mcp setup`.
"""

from __future__ import annotations

import json
from typing import Any

from waiaas_cli.output import units_text
from waiaas_core.amounts import format_duration

# field -> what it means, in the order a person reads a policy
POLICY_AMOUNTS = {
    "instantMax": "sent at once up to",
    "notifyMax": "sent and you are notified up to",
    "delayMax": "sent after the delay up to",
    "dailyLimit": "at most per rolling 24 h (more needs approval)",
    "monthlyLimit": "at most per rolling 30 days (more needs approval)",
    "chatApprovalMax": "a Telegram tap may approve up to",
}
POLICY_DURATIONS = {
    "delaySeconds": "delay before a DELAY-tier send",
    "approvalTimeout": "an unapproved send expires after",
}
POLICY_COUNTS = {
    "maxSendsPerHour": "sends per hour at most",
    "autoSuspendAfterDenials": "denials within an hour that suspend the wallet",
}
CONSTRAINT_AMOUNTS = {
    "maxAmountPerTx": "at most per send",
    "maxAmountPerDay": "at most per rolling 24 h",
}
USD_RULES = {
    "instantMax": "sent at once up to",
    "notifyMax": "sent and you are notified up to",
    "delayMax": "sent after the delay up to",
    "dailyLimit": "at most per rolling 24 h, every token (more needs approval)",
    "monthlyLimit": "at most per rolling 30 days, every token (more needs approval)",
    "chatApprovalMax": "a Telegram tap may approve up to",
}
USD_BUDGETS = {
    "maxUsdPerTx": "at most per send, every token",
    "maxUsdPerDay": "at most per rolling 24 h of this session, every token",
    "maxUsdTotal": "at most over this session's life, every token",
}


def dollars(value: Any) -> str:
    """``"10"`` -> ``$10.00``; ``"0.125"`` -> ``$0.125``."""
    text = str(value)
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


def _usd(rules: dict[str, Any], lines: list[str]) -> None:
    usd = rules.get("usd")
    if not isinstance(usd, dict):
        return
    for field, meaning in USD_RULES.items():
        if field in usd:
            lines.append(_line(f"usd.{field}", meaning, dollars(usd[field])))


def _budgets(constraints: dict[str, Any], lines: list[str]) -> None:
    for field, meaning in USD_BUDGETS.items():
        if field in constraints:
            lines.append(_line(field, meaning, dollars(constraints[field])))
    if constraints.get("allowNative") is False:
        lines.append(_line("allowNative", "the chain's own coin (SOL, ETH)", "not allowed"))
    if isinstance(constraints.get("allowedNetworks"), list):
        networks = ", ".join(map(str, constraints["allowedNetworks"])) or "(none)"
        lines.append(_line("allowedNetworks", "only on", networks))


def _line(field: str, meaning: str, value: str) -> str:
    return f"  {meaning}: {value}  ({field})"


def _lists(rules: dict[str, Any], lines: list[str], registry: Registry | None = None) -> None:
    for field, meaning in (
        ("allowedRecipients", "only to"),
        ("allowedTokens", "only these tokens"),
    ):
        if field in rules:
            values = [
                (registry or {}).get(v, (v, 0))[0] if field == "allowedTokens" else v
                for v in rules[field] or []
            ]
            lines.append(_line(field, meaning, ", ".join(map(str, values)) or "(none)"))


# mint -> (symbol, decimals), from GET /v1/tokens for the wallet's network
Registry = dict[str, tuple[str, int]]

TOKEN_MEANINGS = {**POLICY_AMOUNTS, **CONSTRAINT_AMOUNTS}


def registry_of(answer: Any) -> Registry:
    """``GET /v1/tokens``'s answer as mint -> (symbol, decimals)."""
    known: Registry = {}
    for item in (answer or {}).get("items") or []:
        if isinstance(item, dict) and isinstance(item.get("decimals"), int):
            known[str(item.get("mint"))] = (
                str(item.get("symbol") or item.get("mint")),
                item["decimals"],
            )
    return known


def token_amount(mint: str, value: Any, registry: Registry | None) -> str:
    """``value`` base units of ``mint`` in its own units (``5 USDC``), or said to be raw."""
    known = (registry or {}).get(mint)
    if known is None:
        return f"{value} base units of {mint} (not in the registry)"
    return units_text(value, known[1], known[0])


def _tokens(rules: dict[str, Any], lines: list[str], registry: Registry | None = None) -> None:
    tokens = rules.get("tokens")
    if not isinstance(tokens, dict):
        return
    for mint, limits in tokens.items():
        if not isinstance(limits, dict):
            continue
        label = (registry or {}).get(mint, (mint, 0))[0]
        for field, value in limits.items():
            meaning = TOKEN_MEANINGS.get(field, field)
            amount = token_amount(mint, value, registry)
            lines.append(f"  {label}: {meaning}: {amount}  (tokens.{label}.{field})")


def _x402(rules: dict[str, Any], lines: list[str], registry: Registry | None = None) -> None:
    x402 = rules.get("x402")
    if not isinstance(x402, dict):
        return
    if x402.get("allowAnyHost"):
        lines.append(_line("x402.allowAnyHost", "pay any host", "yes"))
    hosts = x402.get("allowedHosts")
    if isinstance(hosts, list):
        lines.append(_line("x402.allowedHosts", "pay only", ", ".join(map(str, hosts)) or "(none)"))
    ceilings = x402.get("maxPerRequest")
    for mint, value in ceilings.items() if isinstance(ceilings, dict) else ():
        amount = token_amount(mint, value, registry)
        lines.append(f"  x402 per request: at most {amount}  (x402.maxPerRequest)")
    if isinstance(x402.get("networks"), list):
        lines.append(_line("x402.networks", "networks", ", ".join(map(str, x402["networks"]))))


def policy_lines(policy: dict[str, Any], registry: Registry | None = None) -> list[str]:
    """One line per rule that is set; [] for an empty policy.

    The top-level amounts bind SOL sends only (each token has its own under
    ``tokens``; the ``usd`` rules bind every asset), and say so.
    """
    lines: list[str] = []
    for field, meaning in POLICY_AMOUNTS.items():
        if field in policy:
            lines.append(_line(field, meaning, units_text(policy[field])))
    for field, meaning in POLICY_DURATIONS.items():
        if isinstance(policy.get(field), int):
            lines.append(_line(field, meaning, format_duration(policy[field])))
    for field, meaning in POLICY_COUNTS.items():
        if field in policy:
            lines.append(_line(field, meaning, str(policy[field])))
    _lists(policy, lines)
    _tokens(policy, lines, registry)
    _x402(policy, lines, registry)
    _usd(policy, lines)
    known = {*POLICY_AMOUNTS, *POLICY_DURATIONS, *POLICY_COUNTS, "tokens", "x402", "usd"}
    known |= {"allowedRecipients", "allowedTokens"}
    for field in sorted(set(policy) - known):
        lines.append(f"  {field}: {json.dumps(policy[field])}")
    return lines


def constraint_lines(
    constraints: dict[str, Any] | None, registry: Registry | None = None
) -> list[str]:
    lines: list[str] = []
    for field, meaning in CONSTRAINT_AMOUNTS.items():
        if constraints and field in constraints:
            lines.append(_line(field, meaning, units_text(constraints[field])))
    if constraints:
        _budgets(constraints, lines)
        _lists(constraints, lines, registry)
        _tokens(constraints, lines, registry)
    return lines
