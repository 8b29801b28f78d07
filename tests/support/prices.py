"""Loopback price sources speaking the real wire formats of Pyth Hermes, CoinGecko and Jupiter.

Three real HTTP servers on 127.0.0.1 (one per source, each on its own port), so a
daemon's ``[prices]`` URLs point at them exactly as at the real services:

- Hermes ``GET /v2/updates/price/latest?ids[]=<hex>&parsed=true`` →
  ``{"binary": {"encoding": "hex", "data": [...]}, "parsed": [{"id", "price": {"price",
  "conf", "expo", "publish_time"}, "ema_price": {...}, "metadata": {...}}]}``; an unknown
  id is 404 ``Price ids not found: ...`` as Hermes answers.
- CoinGecko ``GET /api/v3/simple/price?ids=<coin>&vs_currencies=usd&include_last_updated_at=true``
  → ``{"<coin>": {"usd": 147.25, "last_updated_at": 1700000000}}`` (unknown: ``{}``).
- Jupiter ``GET /price/v3?ids=<mint>`` → ``{"<mint>": {"usdPrice": 147.25, "blockId",
  "decimals", "priceChange24h", "createdAt", "liquidity"}}`` (unknown: omitted).

Each source's quotes are set per asset id (``SOL``, ``USDC``, ...) with a price in
dollars as text (so NaN, ``-5`` or ``1e308`` reach the wire as written), a confidence
(Hermes only) and an age in seconds before the clock. ``down`` answers 503; every
request is counted in ``hits``; ``hold`` (an Event) keeps answers back until it is set.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from waiaas_daemon.domain.prices.assets import FEEDS

EXPO = -8


@dataclass
class Quote:
    price: str  # dollars per unit, as written on the wire
    conf: str = "0"  # Hermes' confidence, dollars
    age: int = 0  # seconds before the clock


@dataclass
class Source:
    name: str
    quotes: dict[str, Quote] = field(default_factory=dict)
    down: bool = False
    hits: int = 0
    url: str = ""
    # While set and not released, each request waits for it (at most 10 s) before answering.
    hold: threading.Event | None = None


class PriceFakes:
    """Pyth, CoinGecko and Jupiter on loopback; ``clock`` dates their publish times."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.pyth = Source("pyth")
        self.coingecko = Source("coingecko")
        self.jupiter = Source("jupiter")
        self._servers: list[ThreadingHTTPServer] = []
        self._lock = threading.Lock()

    @property
    def sources(self) -> tuple[Source, Source, Source]:
        return (self.pyth, self.coingecko, self.jupiter)

    def set(self, asset: str, price: str, *, conf: str | None = None, age: int = 0) -> None:
        """The same price on every source (a sane confidence of 0.1 % on Hermes)."""
        confidence = conf if conf is not None else str(abs(Decimal(price)) / 1000)
        for source in self.sources:
            source.quotes[asset] = Quote(price, confidence, age)

    def config(self, **extra: Any) -> dict[str, Any]:
        """The daemon's ``[prices]`` section pointing at these servers."""
        return {
            "pyth_url": self.pyth.url,
            "coingecko_url": self.coingecko.url,
            "jupiter_url": self.jupiter.url,
            **extra,
        }

    @property
    def total_hits(self) -> int:
        return sum(s.hits for s in self.sources)

    def start(self) -> PriceFakes:
        for source, answer in (
            (self.pyth, self._hermes),
            (self.coingecko, self._coingecko),
            (self.jupiter, self._jupiter),
        ):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, source, answer))
            server.daemon_threads = True
            source.url = f"http://127.0.0.1:{server.server_address[1]}"
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # -- the three wire formats ------------------------------------------------

    def _when(self, quote: Quote) -> int:
        return int(self.clock()) - quote.age

    def _hermes(self, path: str, query: dict[str, list[str]]) -> tuple[int, str]:
        if path != "/v2/updates/price/latest":
            return 404, "Not Found"
        wanted = [i.lower().removeprefix("0x") for i in query.get("ids[]", [])]
        by_feed = {f.pyth: f.id for f in FEEDS.values()}
        missing = [i for i in wanted if by_feed.get(i) not in self.pyth.quotes]
        if not wanted or missing:
            return 404, f"Price ids not found: {', '.join(missing)}"
        parsed = []
        for feed_id in wanted:
            quote = self.pyth.quotes[by_feed[feed_id]]
            at = self._when(quote)
            price = {
                "price": _scaled(quote.price),
                "conf": _scaled(quote.conf),
                "expo": EXPO,
                "publish_time": at,
            }
            parsed.append(
                {
                    "id": feed_id,
                    "price": price,
                    "ema_price": dict(price),
                    "metadata": {
                        "slot": 200_000_000,
                        "proof_available_time": at + 1,
                        "prev_publish_time": at - 1,
                    },
                }
            )
        body = {"binary": {"encoding": "hex", "data": ["504e4155"]}, "parsed": parsed}
        return 200, json.dumps(body)

    def _coingecko(self, path: str, query: dict[str, list[str]]) -> tuple[int, str]:
        if path != "/api/v3/simple/price":
            return 404, '{"error": "Not Found"}'
        coins = ",".join(query.get("ids", [])).split(",")
        by_coin = {f.coingecko: f.id for f in FEEDS.values()}
        parts = []
        for coin in coins:
            quote = self.coingecko.quotes.get(by_coin.get(coin, ""))
            if quote is not None:
                # Written raw, so that NaN or 1e308 reach the wire exactly as set.
                parts.append(
                    f'"{coin}": {{"usd": {quote.price}, "last_updated_at": {self._when(quote)}}}'
                )
        return 200, "{" + ", ".join(parts) + "}"

    def _jupiter(self, path: str, query: dict[str, list[str]]) -> tuple[int, str]:
        if path != "/price/v3":
            return 404, '{"error": "Not Found"}'
        mints = ",".join(query.get("ids", [])).split(",")
        by_mint = {f.jupiter: f.id for f in FEEDS.values() if f.jupiter}
        parts = []
        for mint in mints:
            quote = self.jupiter.quotes.get(by_mint.get(mint, ""))
            if quote is not None:
                parts.append(
                    f'"{mint}": {{"createdAt": "2024-06-05T08:55:25.527Z", '
                    f'"liquidity": 621679197.67, "usdPrice": {quote.price}, '
                    f'"blockId": 348004023, "decimals": 9, "priceChange24h": 1.29}}'
                )
        return 200, "{" + ", ".join(parts) + "}"


def _scaled(dollars: str) -> str:
    """Dollars as Hermes' integer string at expo -8 ("NaN" and the like go through as text)."""
    try:
        value = Decimal(dollars)
    except ArithmeticError:
        return dollars
    if not value.is_finite():
        return dollars
    return str(int(value.scaleb(-EXPO)))


def _handler(
    fakes: PriceFakes, source: Source, answer: Callable[[str, dict[str, list[str]]], Any]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with fakes._lock:
                source.hits += 1
                hold = source.hold
            if hold is not None:
                hold.wait(10)
            with fakes._lock:
                if source.down:
                    status, body = 503, "Service Unavailable"
                else:
                    status, body = answer(parts.path, parse_qs(parts.query))
            data = body.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the daemon stopped waiting (a held answer past its bound): expected

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def price_fakes(clock: Callable[[], float] = time.time) -> Iterator[PriceFakes]:
    fakes = PriceFakes(clock).start()
    try:
        yield fakes
    finally:
        fakes.stop()
