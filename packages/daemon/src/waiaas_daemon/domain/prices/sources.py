"""The three price sources, each read in its own published wire format.

- Pyth Hermes ``GET /v2/updates/price/latest?ids[]=<feed>&parsed=true`` →
  ``{"binary": {...}, "parsed": [{"id", "price": {"price", "conf", "expo",
  "publish_time"}, "ema_price": {...}, "metadata": {...}}]}``; the price is the
  integer ``price`` times 10^``expo``, its confidence ``conf`` likewise.
- CoinGecko ``GET /api/v3/simple/price?ids=<coin>&vs_currencies=usd&
  include_last_updated_at=true`` → ``{"<coin>": {"usd": 147.2, "last_updated_at": 1700000000}}``.
- Jupiter ``GET /price/v3?ids=<mint>`` → ``{"<mint>": {"usdPrice": 147.2, "blockId",
  "decimals", "priceChange24h", ...}}`` (no time: the answer's own is used).

Every answer is untrusted: numbers are parsed as decimals (NaN and infinities
included, so that the checks in ``service`` can refuse them), and any shape that
is not the documented one is a failure of that source, never an exception upward.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from waiaas_daemon.domain.prices.assets import Feed


@dataclass(frozen=True)
class Quote:
    feed: str  # the asset id (SOL, USDC, ...)
    price: Decimal  # US dollars per whole unit
    conf: Decimal | None  # Pyth's confidence interval, in dollars; None elsewhere
    at: int  # when the source says the price was published (unix seconds)
    source: str  # "pyth" | "coingecko" | "jupiter"


class SourceFailed(Exception):
    """This source gave no quote; the message says why, in a few words."""


def _decode(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise SourceFailed(f"HTTP {response.status_code}")
    try:
        return json.loads(response.content, parse_float=Decimal, parse_constant=Decimal)
    except (ValueError, RecursionError):
        raise SourceFailed("not JSON") from None


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise SourceFailed("a price that is not a number")
    try:
        return Decimal(value)
    except (InvalidOperation, ValueError):
        raise SourceFailed("a price that is not a number") from None


def _time(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceFailed("no publish time")
    return value


async def pyth(client: httpx.AsyncClient, base: str, key: str, feed: Feed, now: int) -> Quote:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.get(
        f"{base.rstrip('/')}/v2/updates/price/latest",
        params=[("ids[]", feed.pyth), ("parsed", "true")],
        headers=headers,
    )
    body = _decode(response)
    parsed = body.get("parsed") if isinstance(body, dict) else None
    entry = next(
        (
            p
            for p in parsed or ()
            if isinstance(p, dict) and str(p.get("id", "")).lower().removeprefix("0x") == feed.pyth
        ),
        None,
    )
    price = entry.get("price") if entry else None
    if not isinstance(price, dict):
        raise SourceFailed("no such feed in the answer")
    expo = price.get("expo")
    if isinstance(expo, bool) or not isinstance(expo, int) or not -30 <= expo <= 30:
        raise SourceFailed("no usable exponent")
    scale = Decimal(1).scaleb(expo)
    return Quote(
        feed.id,
        _number(price.get("price")) * scale,
        _number(price.get("conf")) * scale,
        _time(price.get("publish_time")),
        "pyth",
    )


async def coingecko(client: httpx.AsyncClient, base: str, key: str, feed: Feed, now: int) -> Quote:
    headers = {}
    if key:
        headers["x-cg-pro-api-key" if "pro-api" in base else "x-cg-demo-api-key"] = key
    response = await client.get(
        f"{base.rstrip('/')}/api/v3/simple/price",
        params={"ids": feed.coingecko, "vs_currencies": "usd", "include_last_updated_at": "true"},
        headers=headers,
    )
    body = _decode(response)
    entry = body.get(feed.coingecko) if isinstance(body, dict) else None
    if not isinstance(entry, dict) or "usd" not in entry:
        raise SourceFailed("no such coin in the answer")
    return Quote(
        feed.id, _number(entry["usd"]), None, _time(entry.get("last_updated_at")), "coingecko"
    )


async def jupiter(client: httpx.AsyncClient, base: str, key: str, feed: Feed, now: int) -> Quote:
    if feed.jupiter is None:
        raise SourceFailed(f"no Solana mint prices {feed.id}")
    headers = {"x-api-key": key} if key else {}
    response = await client.get(
        f"{base.rstrip('/')}/price/v3", params={"ids": feed.jupiter}, headers=headers
    )
    body = _decode(response)
    entry = body.get(feed.jupiter) if isinstance(body, dict) else None
    if not isinstance(entry, dict) or "usdPrice" not in entry:
        raise SourceFailed("no such mint in the answer")
    # Jupiter's answer carries no publish time: it is the price as of the answer.
    return Quote(feed.id, _number(entry["usdPrice"]), None, now, "jupiter")
