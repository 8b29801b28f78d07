"""Every network waiaas knows, by chain family: plain data, read by config, daemon and clients.

Solana's four networks and EVM's eleven: the embedded ``evm-local`` and five
chains with their public testnets. Chain ids are the EIP-155 ids each network
signs with; the public RPC URLs are the chains' own public endpoints (rate
limited: an owner with real traffic configures a provider in ``[evm.rpc_urls]``).
USDC is Circle's native USDC contract on each network
(https://developers.circle.com/stablecoins/usdc-contract-addresses).
"""

from __future__ import annotations

from dataclasses import dataclass

SOLANA = "solana"
EVM = "evm"
FAMILIES = (SOLANA, EVM)


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    family: str
    title: str
    chain_id: int | None = None  # EVM only
    native_symbol: str = "SOL"
    native_decimals: int = 9
    testnet: bool = True
    rpc_urls: tuple[str, ...] = ()
    # EVM: blocks a receipt must be deep before a send is CONFIRMED (1: its own block).
    confirmations: int = 1
    usdc: str | None = None


def _evm(
    name: str,
    title: str,
    chain_id: int,
    rpc: str,
    usdc: str,
    *,
    testnet: bool,
    native: str = "ETH",
    confirmations: int = 1,
) -> NetworkInfo:
    return NetworkInfo(
        name=name,
        family=EVM,
        title=title,
        chain_id=chain_id,
        native_symbol=native,
        native_decimals=18,
        testnet=testnet,
        rpc_urls=(rpc,),
        confirmations=confirmations,
        usdc=usdc,
    )


EVM_LOCAL = "evm-local"

NETWORK_LIST: tuple[NetworkInfo, ...] = (
    NetworkInfo("local", SOLANA, "Solana, embedded (LiteSVM)"),
    NetworkInfo("devnet", SOLANA, "Solana devnet"),
    NetworkInfo("testnet", SOLANA, "Solana testnet"),
    NetworkInfo("mainnet", SOLANA, "Solana mainnet", testnet=False),
    # The embedded EVM: its chain id is the node's own (asked at first use).
    NetworkInfo(EVM_LOCAL, EVM, "EVM, embedded", native_symbol="ETH", native_decimals=18),
    _evm(
        "ethereum",
        "Ethereum",
        1,
        "https://ethereum-rpc.publicnode.com",
        "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        testnet=False,
        confirmations=3,
    ),
    _evm(
        "sepolia",
        "Ethereum Sepolia",
        11155111,
        "https://ethereum-sepolia-rpc.publicnode.com",
        "0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238",
        testnet=True,
    ),
    _evm(
        "base",
        "Base",
        8453,
        "https://mainnet.base.org",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        testnet=False,
        confirmations=3,
    ),
    _evm(
        "base-sepolia",
        "Base Sepolia",
        84532,
        "https://sepolia.base.org",
        "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        testnet=True,
    ),
    _evm(
        "arbitrum",
        "Arbitrum One",
        42161,
        "https://arb1.arbitrum.io/rpc",
        "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        testnet=False,
        confirmations=3,
    ),
    _evm(
        "arbitrum-sepolia",
        "Arbitrum Sepolia",
        421614,
        "https://sepolia-rollup.arbitrum.io/rpc",
        "0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d",
        testnet=True,
    ),
    _evm(
        "optimism",
        "OP Mainnet",
        10,
        "https://mainnet.optimism.io",
        "0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85",
        testnet=False,
        confirmations=3,
    ),
    _evm(
        "optimism-sepolia",
        "OP Sepolia",
        11155420,
        "https://sepolia.optimism.io",
        "0x5fd84259d66Cd46123540766Be93DFE6D43130D7",
        testnet=True,
    ),
    _evm(
        "polygon",
        "Polygon PoS",
        137,
        "https://polygon-rpc.com",
        "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359",
        testnet=False,
        native="POL",
        confirmations=16,
    ),
    _evm(
        "polygon-amoy",
        "Polygon Amoy",
        80002,
        "https://rpc-amoy.polygon.technology",
        "0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582",
        testnet=True,
        native="POL",
    ),
)

NETWORKS: dict[str, NetworkInfo] = {n.name: n for n in NETWORK_LIST}
NETWORK_NAMES = tuple(NETWORKS)
SOLANA_NETWORKS = tuple(n.name for n in NETWORK_LIST if n.family == SOLANA)
EVM_NETWORKS = tuple(n.name for n in NETWORK_LIST if n.family == EVM)


def family_of(network: str) -> str | None:
    info = NETWORKS.get(network)
    return None if info is None else info.family


def looks_evm(address: str) -> bool:
    """``0x`` and 40 hex digits: the shape of an EVM address (checksum not checked here)."""
    return (
        len(address) == 42
        and address[:2] == "0x"
        and all(c in "0123456789abcdefABCDEF" for c in address[2:])
    )
