"""The price service against real loopback servers speaking Pyth Hermes, CoinGecko and
Jupiter's wire formats, on an injected clock: cache and maximum age, fallback, every
kind of bogus price refused, stablecoins' depeg guard, assets of every chain family."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.daemon.conftest import FakeClock
from tests.support.prices import PriceFakes, price_fakes
from waiaas_core.config import Settings
from waiaas_daemon.domain.prices import Asset, NoPrice, PriceService, feed_of

pytestmark = pytest.mark.anyio

SOL = Asset("solana", "mainnet", None)
USDC_MAINNET = Asset("solana", "mainnet", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fakes(clock) -> Iterator[PriceFakes]:
    with price_fakes(clock) as running:
        running.set("SOL", "147.25")
        running.set("USDC", "0.9998")
        running.set("ETH", "3000")
        running.set("POL", "0.25")
        yield running


@pytest.fixture
async def service(fakes, clock) -> AsyncIterator[PriceService]:
    settings = Settings(
        pyth_url=fakes.pyth.url, coingecko_url=fakes.coingecko.url, jupiter_url=fakes.jupiter.url
    )
    prices = PriceService(settings, clock)
    yield prices
    await prices.aclose()


async def test_pyth_prices_a_send_exactly_in_micro_dollars_rounded_up(service, fakes):
    valued = await service.value(SOL, 1_500_000_000, 9)
    assert (valued.micros, valued.source, valued.feed) == (220_875_000, "pyth", "SOL")
    assert valued.usd == "220.875" and valued.price == Decimal("147.25")
    # One lamport is worth 0.000000147 $: rounded up to a micro-dollar, never down to 0.
    assert (await service.value(SOL, 1, 9)).micros == 1
    assert (fakes.pyth.hits, fakes.coingecko.hits) == (1, 0)


async def test_a_price_is_cached_until_it_is_older_than_max_age(service, fakes, clock):
    first = await service.value(SOL, 10**9, 9)
    fakes.set("SOL", "200")
    clock.advance(60)
    assert (await service.value(SOL, 10**9, 9)).micros == first.micros == 147_250_000
    assert fakes.pyth.hits == 1
    clock.advance(1)  # the cached quote is now 61 s old: asked again, at the new price
    moved = await service.value(SOL, 10**9, 9)
    assert (moved.micros, fakes.pyth.hits) == (200_000_000, 2)


async def test_a_stale_pyth_price_falls_back_to_coingecko(service, fakes):
    fakes.pyth.quotes["SOL"].age = 61
    fakes.coingecko.quotes["SOL"].price = "150"
    valued = await service.value(SOL, 10**9, 9)
    assert (valued.source, valued.micros) == ("coingecko", 150_000_000)


async def test_sources_down_fall_back_in_order_to_jupiter(service, fakes):
    fakes.pyth.down = True
    fakes.coingecko.down = True
    fakes.jupiter.quotes["SOL"].price = "151.5"
    valued = await service.value(SOL, 10**9, 9)
    assert (valued.source, valued.micros) == ("jupiter", 151_500_000)
    assert (fakes.pyth.hits, fakes.coingecko.hits, fakes.jupiter.hits) == (1, 1, 1)


@pytest.mark.parametrize(
    ("price", "conf", "why"),
    [
        ("0", "0", "a price of 0"),
        ("-5", "0", "a price of -5"),
        ("NaN", "0", "not finite"),
        ("1e308", "0", "implausibly large"),
        ("147.25", "50", "confidence"),
    ],
)
async def test_a_bogus_pyth_price_is_refused_and_the_next_source_used(
    service, fakes, price, conf, why
):
    fakes.pyth.quotes["SOL"].price = price
    fakes.pyth.quotes["SOL"].conf = conf
    valued = await service.value(SOL, 10**9, 9)
    assert valued.source == "coingecko" and valued.micros == 147_250_000


@pytest.mark.parametrize("price", ["0", "-5", "NaN", "Infinity", "1e308", '"x"', "null"])
async def test_bogus_prices_everywhere_give_no_price(service, fakes, price):
    for source in fakes.sources:
        source.quotes["SOL"].price = price
    with pytest.raises(NoPrice) as caught:
        await service.value(SOL, 10**9, 9)
    message = str(caught.value)
    assert message.startswith("no price for SOL: pyth: ")
    assert "coingecko: " in message and "jupiter: " in message


async def test_every_source_down_is_no_price_naming_each(service, fakes):
    for source in fakes.sources:
        source.down = True
    with pytest.raises(NoPrice) as caught:
        await service.value(SOL, 10**9, 9)
    assert str(caught.value) == (
        "no price for SOL: pyth: HTTP 503; coingecko: HTTP 503; jupiter: HTTP 503"
    )


async def test_an_unreachable_source_is_skipped(fakes, clock):
    settings = Settings(
        pyth_url="http://127.0.0.1:9", coingecko_url=fakes.coingecko.url, jupiter_url=""
    )
    service = PriceService(settings, clock)
    try:
        assert (await service.value(SOL, 10**9, 9)).source == "coingecko"
    finally:
        await service.aclose()


async def test_a_publish_time_in_the_future_is_refused(service, fakes):
    fakes.pyth.quotes["SOL"].age = -60
    assert (await service.value(SOL, 10**9, 9)).source == "coingecko"


async def test_a_stablecoin_is_priced_from_its_feed_not_assumed_one_dollar(service, fakes):
    valued = await service.value(USDC_MAINNET, 10_000_000, 6)
    assert (valued.micros, valued.feed) == (9_998_000, "USDC")


async def test_a_depegged_stablecoin_has_no_price(service, fakes):
    fakes.set("USDC", "0.95")
    with pytest.raises(NoPrice, match=r"depegged price of \$0.95"):
        await service.value(USDC_MAINNET, 10_000_000, 6)


async def test_concurrent_valuations_of_one_feed_fetch_it_once(service, fakes):
    import anyio

    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(service.value, SOL, 10**9, 9)
    assert fakes.pyth.hits == 1


async def test_no_source_configured_is_no_price(clock):
    service = PriceService(Settings(pyth_url="", coingecko_url="", jupiter_url=""), clock)
    with pytest.raises(NoPrice, match="every source is turned off"):
        await service.value(SOL, 1, 9)


def test_assets_of_every_chain_map_to_feeds_and_unknown_ones_to_none():
    def feed(*args: str | None) -> str | None:
        found = feed_of(Asset(*args))  # type: ignore[arg-type]
        return None if found is None else found.id

    assert feed("solana", "local", None) == "SOL"
    assert feed("evm", "base", None) == "ETH"
    assert feed("evm", "evm-local", None) == "ETH"
    assert feed("evm", "polygon", None) == "POL"
    assert feed("evm", "base", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913") == "USDC"
    # Test networks value test tokens by symbol, as their real counterparts.
    assert feed("solana", "local", "Mint1111111111111111111111111111111111111111", "USDC") == "USDC"
    assert feed("evm", "evm-local", "0x5fbdb2315678afecb367f032d93f642f64180aa3", "usdc") == "USDC"
    # On a real network a symbol alone is not trusted: only known addresses are.
    assert feed("solana", "mainnet", "Fake111111111111111111111111111111111111111", "USDC") is None
    assert feed("evm", "ethereum", "0x0000000000000000000000000000000000000001", "USDC") is None
    assert feed("cosmos", "hub", None) is None


async def test_evm_sends_are_valued_in_eth_pol_and_usdc_on_their_network(service):
    """An EVM wallet's sends: 18-decimal ETH, POL on Polygon, USDC by address on Base and
    by symbol on a local test chain; the send's own network decides (not the wallet's)."""
    from waiaas_daemon.domain import usd
    from waiaas_daemon.storage import WalletRow

    class Prices:  # what usd.appraise asks of the daemon's state
        def price_service(self) -> PriceService:
            return service

    wallet = WalletRow(
        1, "w", "evm", "evm", "evm-local", "0x" + "11" * 20, "ACTIVE", 0, b"", b"", b"", ""
    )
    state: Any = Prices()
    eth = await usd.appraise(state, wallet, 5 * 10**17)  # 0.5 ETH at $3000
    assert (eth.micros, eth.details()["feed"]) == (1_500_000_000, "ETH")
    pol = await usd.appraise(state, wallet, 4 * 10**18, network="polygon")
    assert (pol.micros, pol.details()["feed"]) == (1_000_000, "POL")
    base_usdc = await usd.appraise(
        state,
        wallet,
        2_500_000,
        mint="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        decimals=6,
        network="base",
    )
    assert base_usdc.micros == 2_499_500  # at $0.9998
    test_usdc = await usd.appraise(
        state, wallet, 10**6, mint="0x" + "ab" * 20, symbol="USDC", decimals=6
    )
    assert test_usdc.details()["feed"] == "USDC"
    fake = await usd.appraise(
        state, wallet, 10**6, mint="0x" + "ab" * 20, symbol="USDC", decimals=6, network="base"
    )
    assert fake.micros is None and "no price feed for USDC on base" in (fake.why or "")


async def test_a_page_does_not_ask_again_for_a_price_it_just_could_not_get_but_a_send_does(
    fakes, clock
):
    settings = Settings(price_max_age=3600, **fakes.config())
    prices = PriceService(settings, clock)
    try:
        for source in fakes.sources:
            source.down = True
        with pytest.raises(NoPrice, match="pyth: HTTP 503"):
            await prices.value_soon(SOL, 10**9, 9, wait=5)
        asked = fakes.total_hits
        clock.advance(59)
        with pytest.raises(NoPrice, match="pyth: HTTP 503"):  # the remembered reason
            await prices.value_soon(SOL, 10**9, 9, wait=5)
        assert fakes.total_hits == asked
        with pytest.raises(NoPrice):  # a send always asks
            await prices.value(SOL, 10**9, 9)
        assert fakes.total_hits == asked + 3
        for source in fakes.sources:
            source.down = False
        clock.advance(2)  # a minute on, not max_age (an hour): asked again
        valued = await prices.value_soon(SOL, 10**9, 9, wait=5)
        assert valued.micros == 147_250_000
    finally:
        await prices.aclose()
