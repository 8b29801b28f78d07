"""US-dollar values of sends, for the owner's USD rules (docs/policy.md, "Rules in dollars").

``assets`` says which price feed values an asset (chain family, network, token
address or native); ``sources`` reads Pyth Hermes, CoinGecko and Jupiter in their
own wire formats; ``service`` caches, checks and falls back, and values an amount.
Imported only when a USD rule exists, so a daemon without one never loads it.
"""

from waiaas_daemon.domain.prices.assets import FEEDS, Asset, Feed, feed_of
from waiaas_daemon.domain.prices.service import NoPrice, PriceService, Valuation

__all__ = ["FEEDS", "Asset", "Feed", "NoPrice", "PriceService", "Valuation", "feed_of"]
