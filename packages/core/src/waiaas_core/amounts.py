"""Amounts and durations as a person types them, converted exactly for the API.

``to_base_units("0.25", 9) == 250_000_000`` and back with ``format_units``; no
float is ever involved, so no amount is ever rounded. ``parse_duration("15m")``
is 900. Each refuses bad input with a ValueError whose message says what is wrong.
"""

from __future__ import annotations

import re

from waiaas_core.limits import MAX_AMOUNT

# Digits, optionally a point and more digits: no sign, no exponent, no spaces inside,
# no separators. "5." and ".5" are accepted as people write them.
_DECIMAL = re.compile(r"(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?")
_DURATION = re.compile(r"(?P<count>[0-9]+)(?P<unit>[smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
#: The longest amount text worth reading (u64 digits, a point, 255 decimals at most).
_MAX_TEXT = 300
#: No rule waits longer than a year.
MAX_DURATION = 366 * 86400


def to_base_units(text: str, decimals: int, *, allow_zero: bool = False) -> int:
    """``text`` (``"12.5"``) in whole units → an int of base units (``12_500_000`` at 6)."""
    _check_decimals(decimals)
    value = text.strip() if isinstance(text, str) else ""
    if not value:
        raise ValueError("the amount is empty")
    if value.startswith("-"):
        raise ValueError(f"{value!r}: the amount cannot be negative")
    match = _DECIMAL.fullmatch(value) if len(value) <= _MAX_TEXT else None
    if match is None or value == ".":
        raise ValueError(
            f"{value!r} is not an amount: write digits with at most one decimal point, "
            "such as 0.25 (no sign, exponent or separators)"
        )
    whole, fraction = match["whole"] or "0", (match["fraction"] or "").rstrip("0")
    if len(fraction) > decimals:
        raise ValueError(f"{value!r} has {len(fraction)} decimals; this asset has only {decimals}")
    units = int(whole + fraction.ljust(decimals, "0"))
    if units > MAX_AMOUNT:
        raise ValueError(f"{value!r} is too large (at most {format_units(MAX_AMOUNT, decimals)})")
    if units == 0 and not allow_zero:
        raise ValueError(f"{value!r}: the amount must be more than zero")
    return units


def format_units(units: int, decimals: int) -> str:
    """An int of base units → the shortest exact decimal text (``250000000, 9`` → ``"0.25"``)."""
    _check_decimals(decimals)
    if isinstance(units, bool) or not isinstance(units, int):
        raise ValueError(f"{units!r} is not a whole number of base units")
    if units < 0:
        raise ValueError(f"{units}: base units cannot be negative")
    whole, fraction = divmod(units, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0") if decimals else ""
    return f"{whole}.{digits}" if digits else str(whole)


def parse_duration(text: str) -> int:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"2d"`` or plain seconds ``"900"`` → int seconds."""
    value = text.strip().lower() if isinstance(text, str) else ""
    match = _DURATION.fullmatch(value) if len(value) <= 20 else None
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: write a whole number with s, m, h or d "
            "(90s, 15m, 1h, 2d) or plain seconds"
        )
    seconds = int(match["count"]) * _UNIT_SECONDS[match["unit"]]
    if seconds > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than a year")
    return seconds


def format_duration(seconds: int) -> str:
    """The largest whole unit: 900 → ``"15m"``, 3600 → ``"1h"``, 90 → ``"90s"``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _check_decimals(decimals: int) -> None:
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 255:
        raise ValueError(f"{decimals!r} is not a number of decimals (0..255)")
