"""Sends that wait: the owner's decisions on them (``scheduler.py`` runs and expires them).

Every decision is a compare-and-swap on the transaction's status, so of
concurrent decisions exactly one wins. A queued or approved send is claimed
(QUEUED/PENDING_APPROVAL -> PENDING, kill switch, wallet and session checked
in the same statement) before it is signed, so it is never sent twice.
"""

from __future__ import annotations

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import payments, tokens, transactions, wallets
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, TransactionRow

WAITING = ("QUEUED", "PENDING_APPROVAL")
# What the agent may withdraw: its waiting sends, and a payment the owner approved
# that it has not paid yet.
CANCELLABLE = (*WAITING, payments.APPROVED)


async def approve(state: DaemonState, tx_id: str, *, actor: str = "owner") -> TransactionRow:
    """The owner's yes: send it now (QUEUED ones too).

    ``actor`` says where the owner decided: ``owner`` (REST, console, CLI) or
    ``owner:telegram:<chat>``; every way goes through this one compare-and-swap.
    """
    tx = await _waiting(state, tx_id)
    expires = tx.approval_expires_at
    if tx.status == "PENDING_APPROVAL" and expires is not None and expires <= state.now():
        # Its time ran out before the scheduler's pass came to it.
        await expire(state, tx)
        raise _not_pending(await _fresh(state, tx_id))
    return await execute(state, tx, actor=actor, action="send_approved")


async def reject(
    state: DaemonState, tx_id: str, reason: str | None, *, actor: str = "owner"
) -> TransactionRow:
    """The owner's no; a payment approved but not yet paid may still be refused."""
    tx = await _waiting(state, tx_id, CANCELLABLE)
    reason = reason or "rejected by the owner"
    return await _decide(state, tx, "REJECTED", reason, actor, from_statuses=CANCELLABLE)


async def cancel(state: DaemonState, wallet_id: str, session_id: str, tx_id: str) -> TransactionRow:
    """The agent withdraws its own wallet's waiting send."""
    tx = await state.db.get_transaction(tx_id)
    if tx is None or tx.wallet_id != wallet_id:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    if tx.status not in CANCELLABLE:
        raise _not_pending(tx)
    return await _decide(
        state,
        tx,
        "CANCELLED",
        "cancelled by the agent",
        f"session:{session_id}",
        from_statuses=CANCELLABLE,
    )


async def expire(state: DaemonState, tx: TransactionRow) -> TransactionRow | None:
    if tx.status == payments.APPROVED:
        return await payments.expire_approved(state, tx)
    try:
        return await _decide(state, tx, "EXPIRED", "the owner did not decide in time", "daemon")
    except WaiaasError:
        return None  # decided meanwhile


async def _waiting(
    state: DaemonState, tx_id: str, statuses: tuple[str, ...] = WAITING
) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    if tx is None:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    if tx.status not in statuses:
        raise _not_pending(tx)
    return tx


def _not_pending(tx: TransactionRow) -> WaiaasError:
    return WaiaasError("TRANSACTION_NOT_PENDING", f"The transaction is {tx.status}.")


async def _decide(
    state: DaemonState,
    tx: TransactionRow,
    status: str,
    reason: str,
    actor: str,
    *,
    from_statuses: tuple[str, ...] = WAITING,
) -> TransactionRow:
    now = state.now()
    details: dict[str, str] = {"reason": reason}
    if tx.type == "PAYMENT":
        details["kind"] = "payment"
    event = Event(actor, f"send_{status.lower()}", tx.wallet_id, tx.session_id, tx.id, details)
    decided = await state.db.swap_transaction(
        tx.id,
        from_statuses,
        {"status": status, "reason": reason, "decided_at": now, "updated_at": now},
        events=[event],
    )
    if decided is None:
        raise _not_pending(await _fresh(state, tx.id))
    return decided


async def execute(
    state: DaemonState, tx: TransactionRow, *, actor: str, action: str
) -> TransactionRow:
    """Claim a waiting send, re-check balance, sign and submit it.

    Held (kill switch on, wallet suspended): that 403, and it stays waiting.
    A PAYMENT is not paid here: only the agent can fetch its resource, so it becomes
    APPROVED and the agent's retry with the same idempotency key pays it.
    """
    if tx.type == "PAYMENT":
        return await payments.approve(state, tx, actor, action)
    wallet = await wallets.get(state, tx.wallet_id)
    origin = tx.status
    async with state.wallet_lock(wallet.id):
        now = state.now()
        event = Event(actor, action, tx.wallet_id, tx.session_id, tx.id, None)
        claimed = await state.db.swap_transaction(
            tx.id,
            (origin,),
            {"status": "PENDING", "decided_at": now, "updated_at": now},
            gate=True,
            events=[event],
        )
        if claimed is None:
            raise await _claim_refused(state, tx, origin)
        try:
            await transactions.check_balance(
                state, wallet, int(tx.amount), to=tx.to_address, token=tokens.of_transaction(tx)
            )
        except WaiaasError as exc:
            if exc.retryable:
                # The chain could not be asked (CHAIN_ERROR): nothing was signed, so the
                # send waits again where it came from; the scheduler tries it later.
                await state.db.swap_transaction(
                    tx.id,
                    ("PENDING",),
                    {"status": origin, "error": f"not sent yet: {exc.message}", "updated_at": now},
                )
                raise
            failed = await state.db.swap_transaction(
                tx.id,
                ("PENDING",),
                {
                    "status": "FAILED",
                    "error": exc.message,
                    "reason": exc.message,
                    "updated_at": state.now(),
                },
                events=[
                    Event(
                        "daemon",
                        "send_failed",
                        tx.wallet_id,
                        tx.session_id,
                        tx.id,
                        {"code": exc.code, "error": exc.message},
                    )
                ],
            )
            assert failed is not None
            return failed
        return await transactions.sign_and_submit(state, wallet, claimed, origin=origin)


async def _claim_refused(state: DaemonState, tx: TransactionRow, origin: str) -> WaiaasError:
    fresh = await _fresh(state, tx.id)
    if fresh.status != origin:
        return _not_pending(fresh)
    inputs = await state.db.send_inputs(tx.wallet_id, tx.session_id, state.now())
    error = transactions.live_error(inputs) or _not_pending(fresh)
    if error.code in ("SESSION_REVOKED", "WALLET_TERMINATED"):
        # Nobody can spend from it any more: it will never run.
        await _decide(state, fresh, "CANCELLED", error.message, "daemon")
    return error


async def _fresh(state: DaemonState, tx_id: str) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    assert tx is not None
    return tx
