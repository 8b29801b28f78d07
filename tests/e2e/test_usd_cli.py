"""The owner's rules typed in human units with the real `waiaas` CLI, against a real
daemon, a loopback x402 shop and loopback price servers. The bug of issue 26: tiers
set with `--instant-max 0.1` bound SOL only, and a 0.25 USDC payment went INSTANT."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.checks import ok
from tests.daemon.test_x402 import World, _world
from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon
from tests.support.prices import PriceFakes, price_fakes

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def fakes() -> Iterator[PriceFakes]:
    with price_fakes() as running:
        running.set("USDC", "1")
        running.set("SOL", "100")
        yield running


@pytest.fixture
def daemon(tmp_path: Path, fakes: PriceFakes) -> Iterator[Daemon]:
    config = {"security": FAST_SECURITY, "prices": fakes.config()}
    with running_daemon(tmp_path / "data", config=config) as running:
        yield running


@pytest.fixture
async def world(daemon: Daemon) -> AsyncIterator[World]:
    async with _world(daemon) as made:
        yield made


def allow_shop(waiaas: Any, world: World) -> None:
    host = world.shop.url.removeprefix("http://")
    ok(waiaas("policy", "set", "agent", "--x402-allow-host", host))


async def test_token_ceilings_set_in_usdc_hold_a_quarter_dollar_payment(world: World, waiaas):
    allow_shop(waiaas, world)
    out = ok(waiaas("policy", "set", "agent", "--token", "USDC", "--instant-max", "0.1"))
    assert "USDC: sent at once up to: 0.1 USDC" in out
    held = await world.pay(idempotencyKey="cli-token-1")
    assert held.status_code == 202, held.text
    assert held.json()["payment"]["status"] == "PENDING_APPROVAL"


async def test_a_dollar_ceiling_set_from_the_cli_holds_it_too(world: World, waiaas):
    allow_shop(waiaas, world)
    out = ok(waiaas("policy", "set", "agent", "--usd-instant-max", "0.10", "--usd-daily", "50"))
    assert "sent at once up to: $0.10  (usd.instantMax)" in out
    held = await world.pay(idempotencyKey="cli-usd-1")
    assert held.status_code == 202, held.text
    shown = ok(waiaas("policy", "show", "agent"))
    assert "$50.00" in shown and "base units" not in shown
