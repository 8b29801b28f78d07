"""Daily spend as a bar chart: pure geometry for an inline SVG (no script, no library).

The numbers behind each bar are also returned as text, so the page shows them
in a table that a screen reader (and a browser test) can read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from waiaas_core.amounts import format_units

WIDTH = 720
HEIGHT = 140
GAP = 2


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: str  # 2026-12-06
    amount: str  # whole units, exact


@dataclass(frozen=True)
class Chart:
    unit: str
    bars: list[Bar]
    total: str
    peak: str
    first_day: str
    last_day: str

    @property
    def spent_days(self) -> list[Bar]:
        return [b for b in self.bars if b.height > 0 or b.amount != "0"]


def days_ending(today: date, count: int) -> list[date]:
    return [today - timedelta(days=count - 1 - i) for i in range(count)]


def day_of(unix: float) -> date:
    return datetime.fromtimestamp(unix, UTC).date()


def chart(unit: str, decimals: int, spends: Iterable[tuple[float, int]], days: list[date]) -> Chart:
    """Bars of one asset's daily totals over ``days`` (UTC), from (time, base units) pairs."""
    totals = dict.fromkeys(days, 0)
    for at, amount in spends:
        day = day_of(at)
        if day in totals:
            totals[day] += amount
    peak = max(totals.values(), default=0)
    slot = WIDTH / max(len(days), 1)
    bars = []
    for i, day in enumerate(days):
        amount = totals[day]
        height = 0.0 if peak == 0 else round(HEIGHT * amount / peak, 2)
        if amount and height < 1:
            height = 1.0  # a spend is never invisible
        bars.append(
            Bar(
                x=round(i * slot + GAP / 2, 2),
                y=round(HEIGHT - height, 2),
                width=round(max(slot - GAP, 1), 2),
                height=height,
                day=day.isoformat(),
                amount=format_units(amount, decimals),
            )
        )
    return Chart(
        unit=unit,
        bars=bars,
        total=format_units(sum(totals.values()), decimals),
        peak=format_units(peak, decimals),
        first_day=days[0].isoformat() if days else "",
        last_day=days[-1].isoformat() if days else "",
    )
