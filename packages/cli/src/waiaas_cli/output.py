"""Printing for humans (aligned tables, ISO 8601 times) and for scripts (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click


def iso_time(unix_seconds: Any) -> str:
    """``2026-11-21T05:06:28Z``; anything that is not a time is shown as it came."""
    if isinstance(unix_seconds, int | float) and not isinstance(unix_seconds, bool):
        moment = datetime.fromtimestamp(unix_seconds, UTC).replace(microsecond=0)
        return moment.isoformat().replace("+00:00", "Z")
    return "-" if unix_seconds is None else str(unix_seconds)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def units_text(value: Any, decimals: int = 9, symbol: str | None = "SOL") -> str:
    """``"250000000"`` → ``0.25 SOL``; anything that is not a count of base units as it came."""
    from waiaas_core.amounts import format_units

    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is None or not text.isdigit() or not text.isascii() or len(text) > 40:
        return "-" if value is None else str(value)
    shown = format_units(int(text), decimals)
    return f"{shown} {symbol}" if symbol else shown
