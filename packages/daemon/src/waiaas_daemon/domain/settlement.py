"""Records brought up to date with the chain: one when it is read, all after a crash,
and in the background every few seconds (the settlement worker).

Transfers and airdrops settle in ``transactions``, x402 payments in ``payments``
(which builds on ``transactions``); this module hands each record to its owner, so
``transactions`` never needs ``payments``. After a crash, on a shared database, it
takes only records whose wallet lock is free (their daemon died); the worker does
the same on either database: a send whose outcome stayed unknown (the node went
away after it was signed) is settled once the node answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import payments, transactions
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import TransactionRow, unavailable

log = logging.getLogger("waiaas_daemon.domain.settlement")

WORKER = "settlement"
# How often the worker looks for unsettled records no send is working on: on a
# shared database another daemon may have died holding some.
SHARED_POLL = 1.0
LOCAL_POLL = 10.0


async def current(state: DaemonState, wallet_id: str, tx_id: str) -> TransactionRow:
    """One of the wallet's transactions, as the chain has it now; another wallet's is 404."""
    tx = await state.db.get_transaction(tx_id)
    if tx is None or tx.wallet_id != wallet_id:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    if tx.type == "PAYMENT":
        return await payments.refresh(state, tx)
    return await transactions.current(state, tx)


async def reconcile(state: DaemonState) -> int:
    """At start: settle every PENDING or SUBMITTED transaction a crash left behind."""
    settled = 0
    for tx in await state.db.unsettled_transactions():
        try:
            if state.db.shared:
                settled += await _reconcile_orphan(state, tx)
                continue
            settled += 1
            await _reconcile_one(state, tx)
        except WaiaasError as exc:  # one stuck transaction must not stop the others
            log.warning("transaction %s: cannot reconcile yet (%s)", tx.id, exc.code)
    return settled


async def settle_orphans(state: DaemonState) -> WaiaasError | None:
    """One pass of the worker: every unsettled record whose wallet no send holds.

    Answers the retryable error of one the chain could not be asked about (the
    worker then reports itself failing and backs off), else None.
    """
    transient: WaiaasError | None = None
    for tx in await state.db.unsettled_transactions():
        if tx.nonce is not None and not state.db.shared:
            continue  # an EVM send on its way: the scheduler follows it up (follow_up)
        try:
            await _reconcile_orphan(state, tx)
        except WaiaasError as exc:
            if exc.retryable:
                transient = exc
            else:
                _stuck(tx.id, exc.code)
        except Exception as exc:
            if unavailable(exc):
                raise  # the database away: the supervisor backs off
            _stuck(tx.id, type(exc).__name__)  # one stuck record must not stop the others
    return transient


_reported: set[str] = set()


def _stuck(tx_id: str, error: str) -> None:
    """Once per record and process: a pass every second must not log every second."""
    if tx_id not in _reported:
        _reported.add(tx_id)
        log.warning("transaction %s: cannot reconcile yet (%s)", tx_id, error)


async def run(
    state: DaemonState, *, sleep: Callable[[float], Awaitable[Any]] = anyio.sleep
) -> None:
    """The settlement worker (under ``workers.supervise``; the database failing ends a run)."""
    poll = SHARED_POLL if state.db.shared else LOCAL_POLL
    while True:
        transient = await settle_orphans(state)
        if transient is None:
            state.workers.ok(WORKER)
            await sleep(poll)
        else:
            await sleep(state.workers.failed(WORKER, transient))


async def follow_up(state: DaemonState) -> tuple[int, bool]:
    """Every SUBMITTED send with a nonce (EVM) followed up: confirmations counted, lost
    ones broadcast again, stuck ones replaced. Answers (how many settled, any left).

    Each under its wallet's lock, skipped while a send of that wallet holds it.
    """
    settled, left = 0, False
    for tx in await state.db.unsettled_transactions():
        if tx.status != "SUBMITTED" or tx.nonce is None:
            continue
        async with state.db.try_wallet_lock(tx.wallet_id) as free:
            fresh = await state.db.get_transaction(tx.id) if free else None
            if fresh is None or fresh.status != "SUBMITTED":
                left = left or not free
                continue
            try:
                wallet = await state.db.get_wallet(tx.wallet_id)
                assert wallet is not None
                after = await transactions.follow_up(state, wallet, fresh)
            except Exception as exc:  # one stuck transaction must not stop the others
                log.warning("transaction %s: cannot follow up (%s)", tx.id, type(exc).__name__)
                left = True
                continue
            if after.status == "SUBMITTED":
                left = True
            else:
                settled += 1
    return settled, left


async def _reconcile_orphan(state: DaemonState, tx: TransactionRow) -> bool:
    """On a shared database: reconcile ``tx`` only if no daemon is sending for its wallet.

    A send holds its wallet's lock from its record to its settlement, so an
    unsettled transaction whose wallet lock is free belongs to a daemon that
    died (or to a submit whose outcome stayed unknown): finishing it is safe.
    """
    async with state.db.try_wallet_lock(tx.wallet_id) as free:
        if not free:
            return False
        fresh = await state.db.get_transaction(tx.id)
        if fresh is None or fresh.status not in transactions.UNSETTLED:
            return False
        await _reconcile_one(state, fresh)
        return True


async def _reconcile_one(state: DaemonState, tx: TransactionRow) -> None:
    if tx.type == "PAYMENT":
        await payments.reconcile_one(state, tx)
    else:
        await transactions.reconcile_one(state, tx)
