"""Everything a request handler needs, opened once per daemon process."""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
from argon2 import PasswordHasher

from waiaas_core.atomic import remove_stale_temp_files
from waiaas_core.config import Settings
from waiaas_core.errors import WaiaasError
from waiaas_core.networks import EVM_LOCAL
from waiaas_core.paths import DATABASE_FILE, TOKENS_DIR, ensure_private_dir
from waiaas_core.tokens import SessionClaims
from waiaas_daemon.chain import families
from waiaas_daemon.chain.interface import Chain
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.domain.eventlog import EventLog
from waiaas_daemon.domain.keystore import (
    KdfParams,
    KeyStore,
    check_master_password,
    hash_master_password,
)
from waiaas_daemon.domain.master import MasterGuard
from waiaas_daemon.domain.notify import Notifier
from waiaas_daemon.domain.token_files import settle_pending
from waiaas_daemon.domain.tokens import ensure_local_test_mint
from waiaas_daemon.domain.workers import Workers
from waiaas_daemon.storage import SqliteStorage, Storage

if TYPE_CHECKING:
    from waiaas_daemon.domain.prices import PriceService
    from waiaas_daemon.domain.telegram.status import PollerStatus

log = logging.getLogger("waiaas.daemon")

MIN_PASSWORD_LENGTH = 8
# Networks whose chain runs inside the daemon.
IN_PROCESS = ("local", EVM_LOCAL)


class StartupError(Exception):
    """The daemon cannot start; the message says why, without any secret."""


@dataclass
class DaemonState:
    settings: Settings
    data_dir: Path
    db: Storage
    master: MasterGuard
    keystore: KeyStore
    jwt_secret: bytes
    clock: Callable[[], float]
    started_at: float
    base_url: str = ""
    chains: dict[str, Chain] = field(default_factory=dict)
    chain_factory: Callable[[str, Settings], Chain] | None = None
    # Written by every state change (db.sink); its worker runs in the app's lifespan.
    notifier: Notifier | None = None
    verified_tokens: dict[str, SessionClaims] = field(default_factory=dict)
    # GET /openapi.json, made once from the routes on its first request.
    openapi: dict[str, Any] | None = None
    # The Telegram bot's status, while the lifespan runs it (a bot token is configured).
    telegram: PollerStatus | None = None
    # x402 payments fetch resources through outbound.py's guard: the TLS context its
    # clients share (made on first use) and the resolver it checks names with (None: the
    # system's; tests inject one).
    resource_tls: ssl.SSLContext | None = None
    resolve: Callable[[str, int], Awaitable[list[str]]] | None = None
    # Waiting sends may be due now (a 202 send, kill switch off, a resume): the domain
    # calls it, the scheduler (while the app's lifespan runs it) answers it. A callback,
    # so that nothing here knows the scheduler.
    waiting_changed: Callable[[], None] = field(default=lambda: None)
    # The background workers failing now (workers.py); GET /health reports them.
    workers: Workers = field(default_factory=Workers)
    # USD valuation (domain/prices), made when a USD rule first needs a price.
    prices: PriceService | None = None

    def now(self) -> int:
        return int(self.clock())

    def price_service(self) -> PriceService:
        """The daemon's prices, made (and their module imported) on first use only."""
        if self.prices is None:
            from waiaas_daemon.domain.prices import PriceService

            self.prices = PriceService(self.settings, self.clock)
        return self.prices

    def chain_for(self, network: str) -> Chain:
        """One adapter per network, made on first use; ``local`` is restored at open.

        The family registry picks the adapter (``chain/families.py``); ``evm-local``,
        the embedded EVM, is opened on the daemon's database at its first use.
        """
        chain = self.chains.get(network)
        if chain is None:
            self.check_network_usable(network)
            if network == EVM_LOCAL and self.chain_factory is None:
                chain = self.chains[network] = open_embedded_evm(self)
            else:
                factory = self.chain_factory or open_chain
                chain = self.chains[network] = factory(network, self.settings)
        return chain

    def check_network_usable(self, network: str) -> None:
        """400 for an in-process network on a shared database (every daemon would have its own)."""
        if self.db.shared and network in IN_PROCESS and network not in self.chains:
            if network == "local" and self.settings.rpc_url:
                return
            raise WaiaasError(
                "INVALID_REQUEST",
                f"network: {network} is an in-process chain, which daemons sharing a "
                "PostgreSQL database cannot share; use a JSON-RPC network.",
            )

    def wallet_lock(self, wallet_id: str) -> AbstractAsyncContextManager[None]:
        """Sends of one wallet run one at a time, so limits and balances hold.

        The storage's lock: this process's on SQLite, every daemon's on PostgreSQL.
        """
        return self.db.wallet_lock(wallet_id)

    async def aclose_chains(self) -> None:
        for chain in self.chains.values():
            await chain.aclose()

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        data_dir: Path,
        password: str,
        *,
        clock: Callable[[], float] = time.time,
        kdf: KdfParams | None = None,
        hasher: PasswordHasher | None = None,
        chain_factory: Callable[[str, Settings], Chain] | None = None,
    ) -> AsyncIterator[DaemonState]:
        """Open the database and check the master password (set it on the first start).

        ``kdf`` and ``hasher`` choose argon2's cost for new keys and a new master
        hash; tests make them cheap, existing records keep their own parameters.
        """
        ensure_private_dir(data_dir)
        remove_stale_temp_files(data_dir / TOKENS_DIR)
        async with open_storage(settings, data_dir) as db:
            await _check_or_set_password(db, password, hasher)
            jwt_secret = await db.set_meta_once("jwt_secret", secrets.token_bytes(32))
            _restrict(data_dir / DATABASE_FILE)
            chains: dict[str, Chain] = {}
            keystore = KeyStore(password, kdf)
            # A shared database never holds an in-process chain's ledger.
            if not db.shared and not (settings.network == "local" and settings.rpc_url):
                local = chains["local"] = LocalChain(await db.load_accounts())
                await ensure_local_test_mint(db, local, keystore, int(clock()))
            state = cls(
                settings=settings,
                data_dir=data_dir,
                db=db,
                master=MasterGuard(
                    password,
                    attempts=settings.master_lockout_attempts,
                    seconds=settings.master_lockout_seconds,
                    clock=clock,
                    lockout=await db.get_master_lockout(),
                    save=db.save_master_lockout,
                    load=db.get_master_lockout if db.shared else None,
                ),
                keystore=keystore,
                jwt_secret=jwt_secret,
                clock=clock,
                started_at=clock(),
                base_url=settings.base_url,
                chains=chains,
                chain_factory=chain_factory,
                workers=Workers(clock),
            )
            state.notifier = Notifier(
                db,
                lambda: state.settings,
                clock=clock,
                base_url=lambda: state.base_url,
                workers=state.workers,
            )
            db.sink = EventLog(clock, state.notifier).write
            # A renewal killed between its commit and its token file: finish it.
            await settle_pending(data_dir, db)
            try:
                yield state
            finally:
                with anyio.CancelScope(shield=True):
                    await state.aclose_chains()
                    if state.prices is not None:
                        await state.prices.aclose()


LOCAL_CHAIN_REFUSED = (
    "[storage] url names a PostgreSQL database, which several daemons share, but the "
    'chain is the in-process local one (network = "local" without rpc_url): use a '
    "JSON-RPC network (devnet, testnet, mainnet, or local with rpc_url = a solana-test-validator)"
)


@asynccontextmanager
async def open_storage(settings: Settings, data_dir: Path) -> AsyncIterator[Storage]:
    """SQLite in the data dir, or the PostgreSQL database of ``[storage] url``."""
    if not settings.storage_url:
        async with SqliteStorage.open(data_dir / DATABASE_FILE) as sqlite:
            yield sqlite
        return
    if settings.network == "local" and not settings.rpc_url:
        raise StartupError(LOCAL_CHAIN_REFUSED)
    from waiaas_daemon.storage.postgres import PostgresStorage, StorageUnavailable

    try:
        async with PostgresStorage.open(
            settings.storage_url, cache_lease=settings.row_cache_lease
        ) as postgres:
            log.info("storage: the PostgreSQL database of [storage] url (shared by every daemon)")
            yield postgres
    except StorageUnavailable as exc:
        raise StartupError(f"cannot use the PostgreSQL database of [storage] url: {exc}") from None


def open_chain(network: str, settings: Settings) -> Chain:
    """The JSON-RPC adapter of ``network``, from its family (the registry)."""
    return families.of_network(network).open_chain(network, settings)


def open_embedded_evm(state: DaemonState) -> Chain:
    """``evm-local``: the in-process EVM, its state in the daemon's database."""
    from waiaas_daemon.domain.evm_local import open_evm_local

    return open_evm_local(state.db, state.settings, state.clock)


async def _check_or_set_password(db: Storage, password: str, hasher: PasswordHasher | None) -> None:
    stored = await db.get_meta("master_hash")
    if stored is None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise StartupError(
                f"the master password must have at least {MIN_PASSWORD_LENGTH} characters"
            )
        # argon2 is slow on purpose: in a worker thread, never on the event loop.
        fresh = await anyio.to_thread.run_sync(hash_master_password, password, hasher)
        stored = await db.set_meta_once("master_hash", fresh)
    if not await anyio.to_thread.run_sync(check_master_password, stored, password):
        raise StartupError("the master password is wrong for this data dir")


def _restrict(path: Path) -> None:
    # The database holds ciphertext and hashes only, but it is still nobody else's business.
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            os.chmod(candidate, 0o600)
