"""The wallet policy as one form: every rule the API has, amounts in their asset's units.

Pure functions both ways: ``fields_of`` turns a policy document into the text
of each field, ``document_of`` turns the posted fields back into a document
(exact decimal conversion, never a float) or says which fields are wrong. The
document is then validated by the API's own Policy model, so every rule of
SPEC 12 is the REST route's, not the console's.

A field is named by its path in the document (``instantMax``,
``tokens.<mint>.dailyLimit``, ``x402.maxPerRequest.<mint>``). Saving never drops
a rule the form does not show: only the paths of fields that were posted are
rewritten; every other part of the stored document (a rule a newer daemon added,
a token the form did not list) is carried over as it was.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from waiaas_core.amounts import format_duration, format_units, parse_duration, to_base_units

SOL_DECIMALS = 9
# Ceilings and limits, top level (SOL) and under tokens.<mint> (the token's units).
LIMITS = ("instantMax", "notifyMax", "delayMax", "dailyLimit", "monthlyLimit", "chatApprovalMax")
AMOUNTS = LIMITS
DURATIONS = ("delaySeconds", "approvalTimeout")
COUNTS = ("maxSendsPerHour", "autoSuspendAfterDenials")
RECIPIENTS = "allowedRecipients"
ALLOWED_TOKENS = "allowedTokens"
X402_HOSTS = "x402.allowedHosts"
X402_ANY_HOST = "x402.allowAnyHost"
X402_NETWORKS = "x402.networks"
X402_PREFERRED = "x402.preferredNetworks"
LISTS = (RECIPIENTS, ALLOWED_TOKENS, X402_HOSTS, X402_NETWORKS, X402_PREFERRED)
CHOICES = (X402_ANY_HOST,)
# Dollar rules: typed as dollars ("$12.50"), stored as dollars with at most 6 decimals.
DOLLARS = tuple(f"usd.{name}" for name in LIMITS)
USD_DECIMALS = 6
# The fields every wallet's form has, whatever its tokens.
FIELDS = (*AMOUNTS, *DURATIONS, *COUNTS, *LISTS, *CHOICES, *DOLLARS)
_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Asset:
    """A token the form has fields for: its mint, symbol and decimals (None: base units)."""

    mint: str
    symbol: str | None
    decimals: int | None

    @property
    def unit(self) -> str:
        if self.decimals is None:
            return "base units"
        return self.symbol or "tokens"


def assets_for(policy: dict[str, Any], registry: Iterable[Asset]) -> list[Asset]:
    """The registry's tokens of the wallet's network, then any other mint the policy names."""
    known = {a.mint: a for a in registry}
    mints = list(known)
    named = [
        *(policy.get("tokens") or {}),
        *((policy.get("x402") or {}).get("maxPerRequest") or {}),
    ]
    for mint in named:
        if mint not in known:
            known[mint] = Asset(mint, None, None)
            mints.append(mint)
    return [known[m] for m in mints]


def token_fields(asset: Asset) -> list[str]:
    return [f"tokens.{asset.mint}.{name}" for name in LIMITS]


def request_field(asset: Asset) -> str:
    return f"x402.maxPerRequest.{asset.mint}"


def field_names(assets: Sequence[Asset] = ()) -> list[str]:
    names = list(FIELDS)
    for asset in assets:
        names += [*token_fields(asset), request_field(asset)]
    return names


def _decimals(name: str, assets: Sequence[Asset]) -> int | None:
    """The decimals an amount field is typed in; None if the field is not an amount."""
    if name in AMOUNTS:
        return SOL_DECIMALS
    for asset in assets:
        if name in token_fields(asset) or name == request_field(asset):
            return asset.decimals or 0
    return None


def _get(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = document
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _drop(document: dict[str, Any], path: str) -> None:
    """Remove the path, and the tables it leaves empty (``tokens.<mint>``, ``x402``)."""
    parts = path.split(".")
    chain = [document]
    for part in parts[:-1]:
        node = chain[-1].get(part)
        if not isinstance(node, dict):
            return
        chain.append(node)
    chain[-1].pop(parts[-1], None)
    for depth in range(len(parts) - 1, 0, -1):
        if chain[depth]:
            break
        chain[depth - 1].pop(parts[depth - 1], None)


def fields_of(policy: dict[str, Any], assets: Sequence[Asset] = ()) -> dict[str, str]:
    """The text each form field shows for this policy document (blank: not set)."""
    fields: dict[str, str] = {}
    for name in field_names(assets):
        value = _get(policy, name)
        fields[name] = "" if value is None else _text(name, value, assets)
    return fields


def _text(name: str, value: Any, assets: Sequence[Asset]) -> str:
    decimals = _decimals(name, assets)
    if decimals is not None:
        return format_units(int(value), decimals)
    if name in DURATIONS:
        return format_duration(int(value))
    if name in LISTS:
        return "\n".join(str(v) for v in value)
    if name in CHOICES:
        return "yes" if value else "no"
    return str(value)  # dollars and counts as they are stored


def document_of(
    form: dict[str, str], current: dict[str, Any], assets: Sequence[Asset] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The policy document the form asks for, and an error per field that could not be read.

    Only the fields present in the form are rewritten (blank: no rule); the rest of
    ``current`` is kept as it is, so a rule the form does not show survives a save.
    """
    document = copy.deepcopy(current)
    errors: dict[str, str] = {}
    for name in field_names(assets):
        if name not in form:
            continue
        text = form[name].strip()
        _drop(document, name)
        if not text:
            continue
        try:
            _set(document, name, _value(name, text, assets))
        except ValueError as error:
            errors[name] = str(error)
    return document, errors


def _value(name: str, text: str, assets: Sequence[Asset]) -> Any:
    decimals = _decimals(name, assets)
    if decimals is not None:
        return str(to_base_units(text, decimals, allow_zero=True))
    if name in DURATIONS:
        return parse_duration(text)
    if name in COUNTS:
        if not text.isdigit() or len(text) > 9:
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    if name in CHOICES:
        if text not in ("yes", "no"):
            raise ValueError(f"{text!r} is not yes or no")
        return text == "yes"
    if name in DOLLARS:
        micros = to_base_units(text.removeprefix("$").strip(), USD_DECIMALS, allow_zero=True)
        return format_units(micros, USD_DECIMALS)
    return [item for item in _SEPARATORS.split(text) if item]


def field_of(message: str, names: Collection[str] = FIELDS) -> str | None:
    """The form field an API validation message names (``notifyMax: must not be below ...``)."""
    head = message.split(":", 1)[0]
    head = re.sub(r"\[\d+\]$", "", head)
    return head if head in names else None
