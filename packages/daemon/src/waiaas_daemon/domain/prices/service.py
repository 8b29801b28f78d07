"""Prices with a maximum age, checked, from the first source that gives a usable one.

A quote is used only when it is fresh (published at most ``max_age`` seconds ago
and not in the future), positive, finite, at most ``MAX_UNIT_PRICE`` dollars, with
a confidence no wider than ``MAX_CONFIDENCE`` of the price (Pyth), and, for a
stablecoin, within ``DEPEG`` of $1. Sources are asked in order (Pyth, CoinGecko,
Jupiter); a usable quote is cached for as long as it stays fresh. Without any,
``NoPrice`` says what each source answered: a USD rule then holds the send for
the owner (``policy.decide``), never lets it through.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import anyio
import httpx

from waiaas_core.amounts import format_units
from waiaas_core.config import Settings
from waiaas_daemon.domain.prices import sources
from waiaas_daemon.domain.prices.assets import Asset, Feed, feed_of
from waiaas_daemon.domain.prices.sources import Quote, SourceFailed

log = logging.getLogger("waiaas_daemon.domain.prices")

#: Pyth's confidence interval may be at most this fraction of the price (2 %).
MAX_CONFIDENCE = Decimal("0.02")
#: A stablecoin priced further than this from $1 is depegged: its price is not used (3 %).
DEPEG = Decimal("0.03")
#: No unit of any asset we value is worth more than a billion dollars.
MAX_UNIT_PRICE = Decimal(10) ** 9
#: A publish time this far ahead of our clock is a broken source, not a fresh price.
FUTURE_SKEW = 10
#: A page does not ask again for a price it could not get for this long (or max_age if shorter).
RETRY_AFTER = 60
#: The largest value recorded, in micro-dollars ($10^12): sums stay far inside int64.
MAX_MICROS = 10**18

Fetch = Callable[[httpx.AsyncClient, str, str, Feed, int], Awaitable[Quote]]


class NoPrice(Exception):
    """No usable price: the message lists why, source by source."""


@dataclass(frozen=True)
class Valuation:
    micros: int  # the send's value in millionths of a dollar, rounded up
    price: Decimal  # dollars per whole unit
    source: str
    at: int  # the price's publish time
    feed: str

    @property
    def usd(self) -> str:
        return format_units(self.micros, 6)

    def details(self) -> dict[str, object]:
        """What the record and the audit entry keep of it."""
        return {
            "value": self.usd,
            "price": price_text(self.price),
            "source": self.source,
            "pricedAt": self.at,
            "feed": self.feed,
        }


def price_text(price: Decimal) -> str:
    text = format(price.normalize(), "f")
    return text


def unusable(quote: Quote, now: int, max_age: int, stable: bool) -> str | None:
    """Why ``quote`` may not value a send, or None when it may."""
    price = quote.price
    if not price.is_finite():
        return "a price that is not finite"
    if price <= 0:
        return f"a price of {price_text(price)}"
    if price > MAX_UNIT_PRICE:
        return "an implausibly large price"
    if quote.conf is not None:
        if not quote.conf.is_finite() or quote.conf < 0:
            return "a confidence that is not a number"
        if quote.conf > price * MAX_CONFIDENCE:
            return f"a confidence of ±{price_text(quote.conf)}, wider than 2 % of the price"
    if quote.at > now + FUTURE_SKEW:
        return "a publish time in the future"
    if now - quote.at > max_age:
        return f"a stale price (published {now - quote.at} s ago, max_age {max_age} s)"
    if stable and abs(price - 1) > DEPEG:
        return f"a depegged price of ${price_text(price)} (more than 3 % from $1)"
    return None


class PriceService:
    """Made on first use of a USD rule (``DaemonState.price_service``); one per daemon."""

    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.max_age = settings.price_max_age
        self.sources: list[tuple[str, str, str, Fetch]] = [
            (name, url, key, fetch)
            for name, url, key, fetch in (
                ("pyth", settings.pyth_url, settings.pyth_api_key, sources.pyth),
                (
                    "coingecko",
                    settings.coingecko_url,
                    settings.coingecko_api_key,
                    sources.coingecko,
                ),
                ("jupiter", settings.jupiter_url, settings.jupiter_api_key, sources.jupiter),
            )
            if url
        ]
        self._timeout = settings.price_timeout
        self._client: httpx.AsyncClient | None = None
        self._cache: dict[str, Quote] = {}
        self._locks: dict[str, anyio.Lock] = {}
        # Feed id -> (until, why): a page does not ask again for a price it just could not get.
        self._failed: dict[str, tuple[int, str]] = {}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            # No proxy from the environment: prices come from the configured URLs only.
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                trust_env=False,
                follow_redirects=False,
                headers={"User-Agent": "waiaas-daemon (prices)", "Accept": "application/json"},
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def now(self) -> int:
        return int(self.clock())

    async def quote(self, feed: Feed) -> Quote:
        """A usable quote of ``feed``: the cached one while fresh, else the first source's."""
        cached = self._cache.get(feed.id)
        if cached is not None and unusable(cached, self.now(), self.max_age, feed.stable) is None:
            return cached
        lock = self._locks.setdefault(feed.id, anyio.Lock())
        async with lock:
            # Another send may have fetched it while this one waited.
            cached = self._cache.get(feed.id)
            now = self.now()
            if cached is not None and unusable(cached, now, self.max_age, feed.stable) is None:
                return cached
            return await self._fetch(feed, now)

    async def _fetch(self, feed: Feed, now: int) -> Quote:
        why: list[str] = []
        for name, url, key, fetch in self.sources:
            try:
                quote = await fetch(self._http(), url, key, feed, now)
            except SourceFailed as exc:
                why.append(f"{name}: {exc}")
                continue
            except httpx.HTTPError as exc:
                why.append(f"{name}: unreachable ({type(exc).__name__})")
                continue
            problem = unusable(quote, self.now(), self.max_age, feed.stable)
            if problem is not None:
                why.append(f"{name}: {problem}")
                continue
            if why:
                log.warning("price of %s from %s; earlier sources: %s", feed.id, name, why)
            self._cache[feed.id] = quote
            self._failed.pop(feed.id, None)
            return quote
        if not self.sources:
            why.append("every source is turned off in [prices]")
        raise NoPrice(f"no price for {feed.id}: " + "; ".join(why))

    def cached_value(self, asset: Asset, amount: int, decimals: int) -> Valuation | None:
        """The value from a fresh cached price, without any I/O; None when a fetch is needed.

        NoPrice at once for an asset no feed values (no fetch could help).
        """
        feed = self._feed(asset)
        cached = self._cache.get(feed.id)
        if cached is None or unusable(cached, self.now(), self.max_age, feed.stable) is not None:
            return None
        return valuation(cached, amount, decimals)

    def _feed(self, asset: Asset) -> Feed:
        feed = feed_of(asset)
        if feed is None:
            label = asset.symbol or asset.address or "the native coin"
            raise NoPrice(f"no price feed for {label} on {asset.network}")
        return feed

    async def value(self, asset: Asset, amount: int, decimals: int) -> Valuation:
        """``amount`` base units of ``asset`` in micro-dollars (rounded up), or NoPrice."""
        quote = await self.quote(self._feed(asset))
        return valuation(quote, amount, decimals)

    def value_at_hand(self, asset: Asset, amount: int, decimals: int) -> Valuation | None:
        """For a page, without any I/O: the value from a fresh cached price; NoPrice when no
        feed values the asset or a page's failure to get its price is remembered; None when
        only a fetch (``value_soon``) can tell."""
        feed = self._feed(asset)
        now = self.now()
        cached = self._cache.get(feed.id)
        if cached is not None and unusable(cached, now, self.max_age, feed.stable) is None:
            return valuation(cached, amount, decimals)
        failed = self._failed.get(feed.id)
        if failed is not None and failed[0] > now:
            raise NoPrice(failed[1])
        return None

    async def value_soon(
        self, asset: Asset, amount: int, decimals: int, *, wait: float
    ) -> Valuation:
        """For a page that shows values: the value within ``wait`` seconds, or NoPrice.

        A fresh cached price answers at once. A feed that gave no usable price (or no
        answer within ``wait``) is not asked again by a page for ``RETRY_AFTER`` seconds
        (``max_age`` if shorter), so a price source that is away slows at most one page
        load in that time. Sends never read this memo: ``value`` always asks.
        """
        at_hand = self.value_at_hand(asset, amount, decimals)
        if at_hand is not None:
            return at_hand
        feed = self._feed(asset)
        now = self.now()
        retry = now + min(self.max_age, RETRY_AFTER)
        quote: Quote | None = None
        with anyio.move_on_after(wait):
            try:
                quote = await self.quote(feed)
            except NoPrice as exc:
                self._failed[feed.id] = (retry, str(exc))
                raise
        if quote is None:
            why = f"no price for {feed.id}: the price sources did not answer within {wait:g} s"
            self._failed[feed.id] = (retry, why)
            raise NoPrice(why)
        return valuation(quote, amount, decimals)


def valuation(quote: Quote, amount: int, decimals: int) -> Valuation:
    exact = Fraction(quote.price) * amount * 10**6 / 10**decimals
    micros = min(MAX_MICROS, -(-exact.numerator // exact.denominator))
    return Valuation(micros, quote.price, quote.source, quote.at, quote.feed)
