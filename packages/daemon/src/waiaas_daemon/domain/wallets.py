"""Wallets: an Ed25519 keypair each, the secret sealed at rest; terminate revokes sessions."""

from __future__ import annotations

import uuid

import anyio.to_thread
from solders.keypair import Keypair

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain.keystore import SealedKey
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, NameTaken, NewWallet, WalletRow


async def create(state: DaemonState, name: str, network: str) -> WalletRow:
    wallet_id = str(uuid.uuid4())
    keypair = Keypair()
    # argon2 is slow on purpose: in a worker thread, never on the event loop.
    sealed = await anyio.to_thread.run_sync(state.keystore.seal, keypair, wallet_id)
    try:
        return await _insert(state, wallet_id, name, network, keypair, sealed)
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
    state: DaemonState, wallet_id: str, name: str, network: str, keypair: Keypair, sealed: SealedKey
) -> WalletRow:
    return await state.db.insert_wallet(
        NewWallet(
            id=wallet_id,
            name=name,
            chain="solana",
            network=network,
            address=str(keypair.pubkey()),
            status="ACTIVE",
            created_at=state.now(),
            key_ciphertext=sealed.ciphertext,
            key_nonce=sealed.nonce,
            key_salt=sealed.salt,
            kdf=sealed.kdf,
        ),
        [Event("owner", "wallet.create", wallet_id, details={"name": name, "network": network})],
    )


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


async def unlock_signer(state: DaemonState, wallet: WalletRow) -> Keypair:
    """The wallet's keypair; the first use derives its key (argon2) in a worker thread."""
    return await anyio.to_thread.run_sync(state.keystore.open, _sealed(wallet), wallet.id)


def signer(state: DaemonState, wallet: WalletRow) -> Keypair:
    """As unlock_signer, on the caller's thread: argon2 on first use. Prefer unlock_signer."""
    return state.keystore.open(_sealed(wallet), wallet.id)
