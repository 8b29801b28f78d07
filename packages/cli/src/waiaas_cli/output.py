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
