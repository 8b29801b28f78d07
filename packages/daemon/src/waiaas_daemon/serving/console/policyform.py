"""The wallet policy as a form: SOL amounts, dollars and durations as a person types them.

Pure functions both ways: ``fields_of`` turns a policy document into the text
of each field, ``document_of`` turns the posted fields back into a document
(exact decimal conversion, never a float) or says which fields are wrong. The
document is then validated by the API's own Policy model, so every rule of
SPEC 12 is the REST route's, not the console's.
"""

from __future__ import annotations

import re
from typing import Any

from waiaas_core.amounts import format_duration, format_units, parse_duration, to_base_units

SOL_DECIMALS = 9
AMOUNTS = ("instantMax", "notifyMax", "delayMax", "dailyLimit", "monthlyLimit")
DURATIONS = ("delaySeconds", "approvalTimeout")
COUNTS = ("maxSendsPerHour", "autoSuspendAfterDenials")
RECIPIENTS = "allowedRecipients"
# form field -> the policy's usd rule (dollars over every token on every chain)
USD = {
    "usdInstantMax": "instantMax",
    "usdNotifyMax": "notifyMax",
    "usdDelayMax": "delayMax",
    "usdDailyLimit": "dailyLimit",
    "usdMonthlyLimit": "monthlyLimit",
    "usdChatApprovalMax": "chatApprovalMax",
}
FIELDS = (*AMOUNTS, *DURATIONS, *COUNTS, RECIPIENTS, *USD)
_SEPARATORS = re.compile(r"[\s,]+")


def fields_of(policy: dict[str, Any]) -> dict[str, str]:
    """The text each form field shows for this policy document (blank: not set)."""
    fields = dict.fromkeys(FIELDS, "")
    for name in AMOUNTS:
        if policy.get(name) is not None:
            fields[name] = format_units(int(policy[name]), SOL_DECIMALS)
    for name in DURATIONS:
        if policy.get(name) is not None:
            fields[name] = format_duration(int(policy[name]))
    for name in COUNTS:
        if policy.get(name) is not None:
            fields[name] = str(policy[name])
    fields[RECIPIENTS] = "\n".join(policy.get(RECIPIENTS) or ())
    usd = policy.get("usd") or {}
    for name, rule in USD.items():
        if usd.get(rule) is not None:
            fields[name] = str(usd[rule])
    return fields


def document_of(
    form: dict[str, str], current: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The policy document the form asks for, and an error per field that could not be read."""
    # Every field the form does not show (per-token rules, x402, chat approvals, and any
    # added later) is kept as it is: saving the form changes only what it shows. The
    # form shows every dollar rule, so ``usd`` is the form's.
    shown = {*FIELDS, "usd"}
    document: dict[str, Any] = {k: v for k, v in current.items() if k not in shown}
    errors: dict[str, str] = {}
    for name in FIELDS:
        text = form.get(name, "").strip()
        if not text:
            continue
        try:
            value = _value(name, text)
        except ValueError as error:
            errors[name] = str(error)
            continue
        if name in USD:
            document.setdefault("usd", {})[USD[name]] = value
        else:
            document[name] = value
    return document, errors


def _value(name: str, text: str) -> Any:
    if name in USD:
        dollars = text.removeprefix("$").strip()
        return format_units(to_base_units(dollars, 6, allow_zero=True), 6)
    if name in AMOUNTS:
        return str(to_base_units(text, SOL_DECIMALS, allow_zero=True))
    if name in DURATIONS:
        return parse_duration(text)
    if name in COUNTS:
        if not text.isdigit() or len(text) > 9:
            raise ValueError(f"{text!r} is not a whole number")
        return int(text)
    return [address for address in _SEPARATORS.split(text) if address]


def field_of(message: str) -> str | None:
    """The form field an API validation message names (``notifyMax: must not be below ...``)."""
    head = message.split(":", 1)[0]
    if head.startswith("usd."):
        rule = head.removeprefix("usd.")
        return next((name for name, r in USD.items() if r == rule), None)
    name = re.split(r"[.\[]", head, maxsplit=1)[0]
    return name if name in FIELDS else None
