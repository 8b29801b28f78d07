"""Wallets: one key each (Ed25519 for Solana, secp256k1 for EVM), sealed at rest.

A wallet belongs to one chain family; its key gives it one address on every
network of that family. Its ``network`` is the one it was created on: where it
sends unless a send names another (allowed by the policy's ``allowedNetworks``).
Terminating a wallet revokes its sessions.
"""

from __future__ import annotations

import uuid
from typing import Any

import anyio.to_thread

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import family_of
from waiaas_daemon.chain import families
from waiaas_daemon.chain.interface import ChainFamily
from waiaas_daemon.domain.keystore import SealedKey
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, NameTaken, NewWallet, WalletRow


async def create(
    state: DaemonState, name: str, network: str | None, chain: str | None = None
) -> WalletRow:
    """A new wallet of ``chain`` (default: the family of ``network``, else Solana).

    ``network`` defaults to the family's configured one (``[solana] network``,
    ``[evm] network``); a network of another family than ``chain`` is 400.
    """
    family, network = choose_network(state, network, chain)
    wallet_id = str(uuid.uuid4())
    # Key generation (eth-account's) and argon2 are slow: in a worker thread.
    secret, address = await anyio.to_thread.run_sync(family.new_key)
    sealed = await anyio.to_thread.run_sync(state.keystore.seal_secret, secret, wallet_id)
    try:
        return await _insert(state, wallet_id, name, network, family.name, address, sealed)
    except NameTaken:
        raise _name_taken(name) from None


def _name_taken(name: str) -> WaiaasError:
    # A unique index over live wallets' names decides, so two creations at once cannot both win.
    return WaiaasError(
        "WALLET_NAME_TAKEN",
        f"name: another wallet is already called {name!r}",
        hint="Choose another name, or rename or delete the other wallet first.",
    )


async def _insert(
    state: DaemonState,
    wallet_id: str,
    name: str,
    network: str,
    chain: str,
    address: str,
    sealed: SealedKey,
) -> WalletRow:
    return await state.db.insert_wallet(
        NewWallet(
            id=wallet_id,
            name=name,
            chain=chain,
            network=network,
            address=address,
            status="ACTIVE",
            created_at=state.now(),
            key_ciphertext=sealed.ciphertext,
            key_nonce=sealed.nonce,
            key_salt=sealed.salt,
            kdf=sealed.kdf,
        ),
        [
            Event(
                "owner",
                "wallet.create",
                wallet_id,
                details={"name": name, "chain": chain, "network": network},
            )
        ],
    )


def choose_network(
    state: DaemonState, network: str | None, chain: str | None
) -> tuple[ChainFamily, str]:
    if network is not None:
        families.of_network(network)  # an unknown network is 400 naming the field
    name = chain or (family_of(network) if network else None) or "solana"
    family = families.family(name)
    if network is None:
        network = state.settings.network if name == "solana" else state.settings.evm_network
    if family_of(network) != family.name:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"network: {network} is a {family_of(network)} network, not a {family.name} one.",
        )
    state.check_network_usable(network)
    return family, network


async def get(state: DaemonState, wallet_id: str) -> WalletRow:
    wallet = await state.db.get_wallet(wallet_id)
    if wallet is None:
        raise WaiaasError("WALLET_NOT_FOUND")
    return wallet


async def active_wallet(state: DaemonState, wallet_id: str) -> WalletRow:
    """The wallet if it is active, its key derived, so that signer() then costs no argon2."""
    wallet = await get(state, wallet_id)
    # A suspended wallet still receives; only its sends stop (SPEC 13).
    if wallet.status == "TERMINATED":
        raise WaiaasError("WALLET_TERMINATED")
    if not state.keystore.is_unlocked(_sealed(wallet)):
        # The first use after a start derives the key: in a worker thread, off the loop.
        await unlock_signer(state, wallet)
    return wallet


async def rename(state: DaemonState, wallet_id: str, name: str) -> WalletRow:
    """A new name for a live wallet; unique among live wallets as at creation."""
    wallet = await get(state, wallet_id)
    if wallet.status == "TERMINATED":
        raise WaiaasError("WALLET_TERMINATED")
    if wallet.name == name:
        return wallet
    event = Event("owner", "wallet.rename", wallet_id, details={"from": wallet.name, "to": name})
    try:
        renamed = await state.db.rename_wallet(wallet_id, name, [event])
    except NameTaken:
        raise _name_taken(name) from None
    if renamed is None:
        raise WaiaasError("WALLET_NOT_FOUND")
    return renamed


async def terminate(state: DaemonState, wallet_id: str) -> WalletRow:
    wallet = await state.db.terminate_wallet(
        wallet_id, state.now(), [Event("owner", "wallet.terminate", wallet_id)]
    )
    if wallet is None:
        raise WaiaasError("WALLET_NOT_FOUND")
    return wallet


def _sealed(wallet: WalletRow) -> SealedKey:
    return SealedKey(wallet.key_ciphertext, wallet.key_nonce, wallet.key_salt, wallet.kdf)


def network_for(wallet: WalletRow, network: str | None) -> str:
    """The network a request about ``wallet`` means: its own, or another of its family.

    Reads (balance, assets) may name any network of the family; a send's network
    must also be allowed by the policy (``allowedNetworks``).
    """
    if network is None or network == wallet.network:
        return wallet.network
    family = family_of(network)
    if family is None:
        families.of_network(network)  # 400 naming the field
    if family != wallet.chain:
        raise WaiaasError(
            "INVALID_REQUEST",
            f"network: {network} is a {family} network; this wallet is a {wallet.chain} "
            "wallet (one address on every network of its family).",
        )
    return network


def family_of_wallet(wallet: WalletRow) -> ChainFamily:
    return families.family(wallet.chain)


async def unlock_signer(state: DaemonState, wallet: WalletRow) -> Any:
    """The wallet's signing key; the first use derives its key (argon2) in a worker thread."""
    secret = await anyio.to_thread.run_sync(state.keystore.open_secret, _sealed(wallet), wallet.id)
    return family_of_wallet(wallet).signer(secret)


def signer(state: DaemonState, wallet: WalletRow) -> Any:
    """As unlock_signer, on the caller's thread: argon2 on first use. Prefer unlock_signer."""
    return family_of_wallet(wallet).signer(state.keystore.open_secret(_sealed(wallet), wallet.id))
