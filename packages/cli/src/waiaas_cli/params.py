"""Click parameter types for what a person types: amounts in whole units, durations, ids.

Each converts exactly with waiaas_core.amounts and turns its ValueError into
click's usage error naming the option (exit code 2).
"""

from __future__ import annotations

import re
from typing import Any

import click

from waiaas_core.amounts import format_units, parse_duration, to_base_units
from waiaas_core.limits import BASE58_ADDRESS_RE, canonical_uuid

SOL_DECIMALS = 9


class Amount(click.ParamType):
    """An amount in whole units (``0.25``), converted to base units (an int)."""

    name = "amount"

    def __init__(
        self, decimals: int = SOL_DECIMALS, unit: str = "SOL", *, allow_zero: bool = False
    ) -> None:
        self.decimals = decimals
        self.unit = unit
        self.allow_zero = allow_zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value  # a default already in base units
        try:
            return to_base_units(str(value), self.decimals, allow_zero=self.allow_zero)
        except ValueError as exc:
            self.fail(f"{exc} ({self.unit}).", param, ctx)


class Duration(click.ParamType):
    """``90s``, ``15m``, ``1h``, ``2d`` or plain seconds, converted to int seconds."""

    name = "duration"

    def __init__(self, minimum: int = 0) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if seconds < self.minimum:
            self.fail(f"{value!r} is shorter than {self.minimum} s.", param, ctx)
        return seconds


class Dollars(click.ParamType):
    """US dollars as a person types them (``10``, ``2.50``, ``$5``), as the API's decimal string."""

    name = "dollars"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().removeprefix("$")
        try:
            micros = to_base_units(text, 6, allow_zero=True)
        except ValueError as exc:
            self.fail(f"{exc} (US dollars, at most 6 decimals).", param, ctx)
        if micros >= 10**18:
            self.fail(f"{value!r} is more dollars than a rule may hold.", param, ctx)
        return format_units(micros, 6)


# --budget periods -> the session constraint each sets
BUDGET_PERIODS = {
    "tx": "maxUsdPerTx",
    "send": "maxUsdPerTx",
    "day": "maxUsdPerDay",
    "total": "maxUsdTotal",
}


class Budget(click.ParamType):
    """``10/day``, ``2.50/tx``, ``50/total``: a session's dollar budget, as (field, dollars)."""

    name = "budget"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        amount, _, period = str(value).strip().partition("/")
        field = BUDGET_PERIODS.get(period.strip().lower())
        if field is None:
            self.fail(
                f"{value!r} is not a budget: write dollars, a slash and tx, day or total "
                "(10/day, 2.50/tx, 50/total).",
                param,
                ctx,
            )
        return field, DOLLARS.convert(amount, param, ctx)


class Address(click.ParamType):
    """A base58 Solana address, checked before it is sent."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip()
        if not BASE58_ADDRESS_RE.match(text):
            self.fail(f"{value!r} is not a Solana address (base58, 32 bytes).", param, ctx)
        return text


class Uuid(click.ParamType):
    """An id as the daemon writes it, checked before it goes into a URL path."""

    name = "id"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().lower()
        try:
            return canonical_uuid(text)
        except ValueError:
            self.fail(f"{value!r} is not a {self.what} id (a UUID).", param, ctx)


_NEGATIVE_NUMBER = re.compile(r"-[0-9.][0-9.,_]*")


class NumberArguments(click.Command):
    """A command with an amount argument: ``-1`` is a (wrong) amount, not an unknown option.

    Without this, click reads ``waiaas wallet airdrop main -1`` as an option and
    says "No such option '-1'", which says nothing about the amount.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(_NEGATIVE_NUMBER.fullmatch(arg) for arg in args):
            ctx.ignore_unknown_options = True
        return super().parse_args(ctx, args)


SOL = Amount()
#: A policy ceiling may be 0 (``--instant-max 0``: nothing goes out without a pause).
SOL_CEILING = Amount(allow_zero=True)
DURATION = Duration()
ADDRESS = Address()
DOLLARS = Dollars()
BUDGET = Budget()
