"""Which price feed values an asset, whatever its chain.

An asset is named chain-agnostically: its chain family (``solana``, ``evm``), its
network, and its token address (an SPL mint, an ERC-20 contract) or None for the
chain's native coin. A feed is what the price sources know it by: a Pyth feed id, a
CoinGecko coin id and, where one exists, a Solana mint Jupiter prices.

On a real network a token is valued only when its address is one of the known
ones below: a symbol is whatever its registrant typed. On a test network (the local
chains, devnet, testnet, Sepolia, ...) test tokens are valued by their registry
symbol as their real counterparts are (the local test ``USDC`` at USDC's price),
so limits behave there as they will on mainnet. Anything else has no feed, hence
no price, and a USD rule sends it to the owner (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feed:
    id: str  # the asset id: "SOL", "USDC", ...
    pyth: str  # Pyth price feed id, hex without 0x
    coingecko: str  # CoinGecko coin id
    jupiter: str | None  # a Solana mint Jupiter's price API knows, if any
    stable: bool = False  # a US-dollar stablecoin: its price must stay near $1


@dataclass(frozen=True)
class Asset:
    family: str  # "solana" | "evm"
    network: str
    address: str | None  # the token's mint or contract; None for the native coin
    symbol: str | None = None  # the registry's symbol (trusted on test networks only)


WSOL = "So11111111111111111111111111111111111111112"

FEEDS: dict[str, Feed] = {
    f.id: f
    for f in (
        Feed(
            "SOL",
            "ef0d8b6fda2ceba41da15d4095d1da392a0d2f8ed0c6c7bc0f4cfac8c280b56d",
            "solana",
            WSOL,
        ),
        Feed(
            "ETH",
            "ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace",
            "ethereum",
            "7vfCXTUXx5WJV5JADk17DUJ4ksgau7utNKj4b963voxs",  # Wormhole ETH on Solana
        ),
        Feed(
            "POL",
            "ffd11c5a1cfd42f80afb2df4d9f264c15f956d68153335374ec10722edd70472",
            "polygon-ecosystem-token",
            None,
        ),
        Feed(
            "USDC",
            "eaa020c61cc479712813461ce153894a96a6c00b21ed0cfc2798d1f9a9e9c94a",
            "usd-coin",
            "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            stable=True,
        ),
        Feed(
            "USDT",
            "2b89b9dc8fdf9f34709a5b106b472f0f39bb6ca9ce04b0fd7f2e971688e2e53b",
            "tether",
            "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
            stable=True,
        ),
        Feed(
            "PYUSD",
            "c1da1b73d7f01e7ddd54b3766cf7fcd644395ad14f70aa706ec5384c59e76692",
            "paypal-usd",
            "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo",
            stable=True,
        ),
    )
}

# Token addresses on real networks: (family, network) -> {address: asset id}.
# EVM addresses are compared in lower case.
KNOWN_TOKENS: dict[tuple[str, str], dict[str, str]] = {
    ("solana", "mainnet"): {
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v": "USDC",
        "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB": "USDT",
        "2b1kV6DkPAnxd5ixfnxCpjxmKwqjjaYmCZfHsFu24GXo": "PYUSD",
    },
    ("evm", "ethereum"): {
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": "USDC",
        "0xdac17f958d2ee523a2206206994597c13d831ec7": "USDT",
        "0x6c3ea9036406852006290770bedfcaba0e23a0e8": "PYUSD",
    },
    ("evm", "base"): {"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913": "USDC"},
    ("evm", "polygon"): {
        "0x3c499c542cef5e3811e1192ce70d8cc03d5c3359": "USDC",
        "0xc2132d05d31c914a87c6611c10748aeb04b58e8f": "USDT",
    },
    ("evm", "arbitrum"): {"0xaf88d065e77c8cc2239327c5edb3a432268e5831": "USDC"},
    ("evm", "optimism"): {"0x0b2c639c533813f4aa9d7837caf62653d097ff85": "USDC"},
}

# Words that mark a network as a test network (whose test tokens go by symbol).
_TEST_WORDS = ("local", "devnet", "testnet", "sepolia", "holesky", "amoy", "anvil")
# Symbols a test token may carry to be valued as its real counterpart.
_TEST_SYMBOLS = {"USDC": "USDC", "USDT": "USDT", "PYUSD": "PYUSD", "WETH": "ETH", "WSOL": "SOL"}


def is_test_network(network: str) -> bool:
    return any(word in network.lower() for word in _TEST_WORDS)


def native_of(family: str, network: str) -> str | None:
    """The asset id of a chain's native coin: SOL, ETH, or POL on Polygon's networks."""
    if family == "solana":
        return "SOL"
    if family == "evm":
        return "POL" if "polygon" in network.lower() or "amoy" in network.lower() else "ETH"
    return None


def feed_of(asset: Asset) -> Feed | None:
    """The feed that values ``asset``; None when none does (no price: fail closed)."""
    if asset.address is None:
        native = native_of(asset.family, asset.network)
        return FEEDS.get(native) if native else None
    known = KNOWN_TOKENS.get((asset.family, asset.network), {})
    address = asset.address.lower() if asset.family == "evm" else asset.address
    asset_id = known.get(address)
    if asset_id is None and is_test_network(asset.network) and asset.symbol:
        asset_id = _TEST_SYMBOLS.get(asset.symbol.upper())
    return FEEDS.get(asset_id) if asset_id else None
