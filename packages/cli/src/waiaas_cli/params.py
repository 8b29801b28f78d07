"""Click parameter types for what a person types: amounts in whole units, durations, ids.

Each converts exactly with waiaas_core.amounts and turns its ValueError into
click's usage error naming the option (exit code 2).
"""

from __future__ import annotations

import re
from typing import Any

import click

from waiaas_core.amounts import parse_duration, to_base_units
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

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


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
