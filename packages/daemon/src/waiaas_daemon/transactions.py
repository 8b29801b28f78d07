"""Spending: checks, a record before anything is signed, and reconciliation after a crash.

A send goes PENDING (recorded before signing) → SUBMITTED (signature and
signed bytes saved, then handed to the chain) → CONFIRMED | FAILED. Sends of
one wallet are serialized, so the balance and the daily limit are checked
against a settled history.
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon import wallets
from waiaas_daemon.chain.base import Outcome, PreparedTransfer
from waiaas_daemon.sessions import Authenticated
from waiaas_daemon.state import DaemonState
from waiaas_daemon.storage import TransactionRow, WalletRow

log = logging.getLogger("waiaas_daemon.transactions")

DAY = 86400
UNSETTLED = ("PENDING", "SUBMITTED")


def check_constraints(
    constraints: dict[str, Any] | None, to: str, amount: int, sent_today: int
) -> None:
    if not constraints:
        return
    allowed = constraints.get("allowedRecipients")
    if allowed is not None and to not in allowed:
        raise WaiaasError("CONSTRAINT_VIOLATED", "The recipient is not in allowedRecipients.")
    per_tx = constraints.get("maxAmountPerTx")
    if per_tx is not None and amount > int(per_tx):
        raise WaiaasError(
            "CONSTRAINT_VIOLATED", f"The amount is over maxAmountPerTx ({per_tx} lamports)."
        )
    per_day = constraints.get("maxAmountPerDay")
    if per_day is not None and sent_today + amount > int(per_day):
        left = max(0, int(per_day) - sent_today)
        raise WaiaasError(
            "CONSTRAINT_VIOLATED",
            f"The amount is over what maxAmountPerDay leaves for the last 24 hours "
            f"({left} lamports).",
        )


async def send(
    state: DaemonState, auth: Authenticated, to: str, amount: int, memo: str | None
) -> TransactionRow:
    wallet = await wallets.active_wallet(state, auth.claims.wallet_id)
    chain = state.chain_for(wallet.network)
    async with state.wallet_lock(wallet.id):
        constraints = auth.session.constraints or {}
        sent_today = 0
        if "maxAmountPerDay" in constraints:
            sent_today = await state.db.sent_since(wallet.id, state.now() - DAY)
        check_constraints(constraints, to, amount, sent_today)
        fee = await chain.transfer_fee()
        balance = await chain.get_balance(wallet.address)
        if balance < amount + fee:
            raise WaiaasError(
                "INSUFFICIENT_BALANCE",
                f"The balance is {balance} lamports; the send needs {amount + fee} "
                f"({amount} + {fee} fee).",
            )
        tx = await _record(state, wallet, "TRANSFER", to, amount, memo, auth.session.id)
        try:
            prepared = await chain.prepare_transfer(wallets.signer(state, wallet), to, amount, memo)
        except BaseException as exc:
            # Nothing was signed, so nothing can reach the chain: the record is
            # final, and must not count against the daily limit.
            reason = exc.message if isinstance(exc, WaiaasError) else "not signed"
            with anyio.CancelScope(shield=True):
                await _update(state, tx.id, status="FAILED", error=f"not sent: {reason}")
            raise
        # Signature and signed bytes are saved before the chain sees them, so
        # reconciliation can always ask the chain about this very transaction.
        await _update(
            state, tx.id, status="SUBMITTED", signature=prepared.signature, raw=prepared.raw
        )
        return await _submit(state, tx.id, wallet, prepared)


async def airdrop(state: DaemonState, wallet_id: str, amount: int) -> TransactionRow:
    wallet = await wallets.active_wallet(state, wallet_id)
    chain = state.chain_for(wallet.network)
    if not chain.airdrop_allowed:
        raise WaiaasError(
            "INVALID_REQUEST", f"Airdrops are allowed on local and devnet, not {wallet.network}."
        )
    async with state.wallet_lock(wallet.id):
        tx = await _record(state, wallet, "AIRDROP", wallet.address, amount, None, None)
        try:
            outcome = await chain.airdrop(wallet.address, amount)
        except WaiaasError as exc:
            await _update(state, tx.id, status="FAILED", error=exc.message)
            raise
        return await _settle(state, tx.id, outcome)


async def _record(
    state: DaemonState,
    wallet: WalletRow,
    kind: str,
    to: str,
    amount: int,
    memo: str | None,
    session_id: str | None,
) -> TransactionRow:
    now = state.now()
    return await state.db.insert_transaction(
        {
            "id": str(uuid.uuid4()),
            "wallet_id": wallet.id,
            "session_id": session_id,
            "type": kind,
            "status": "PENDING",
            "to_address": to,
            "amount": str(amount),
            "memo": memo,
            "created_at": now,
            "updated_at": now,
        }
    )


async def _submit(
    state: DaemonState, tx_id: str, wallet: WalletRow, prepared: PreparedTransfer
) -> TransactionRow:
    chain = state.chain_for(wallet.network)
    try:
        outcome = await chain.submit(prepared)
    except WaiaasError as exc:
        # The node may or may not have it: keep SUBMITTED, reconcile by signature.
        log.warning("transaction %s: submit failed (%s); will reconcile", tx_id, exc.code)
        await _update(state, tx_id, error=f"outcome unknown: {exc.message}")
        return await _get(state, tx_id)
    return await _settle(state, tx_id, outcome)


async def _settle(state: DaemonState, tx_id: str, outcome: Outcome) -> TransactionRow:
    await state.db.update_transaction(
        tx_id,
        {
            "status": outcome.status,
            "signature": outcome.signature,
            "error": outcome.error,
            "updated_at": state.now(),
        },
        outcome.accounts,
    )
    return await _get(state, tx_id)


async def _update(state: DaemonState, tx_id: str, **changes: Any) -> None:
    await state.db.update_transaction(tx_id, {**changes, "updated_at": state.now()})


async def _get(state: DaemonState, tx_id: str) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    assert tx is not None
    return tx


async def get_for_wallet(state: DaemonState, wallet_id: str, tx_id: str) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    if tx is None or tx.wallet_id != wallet_id:
        raise WaiaasError("TRANSACTION_NOT_FOUND")
    if tx.status in UNSETTLED and tx.signature:
        tx = await refresh(state, tx)
    return tx


async def refresh(state: DaemonState, tx: TransactionRow) -> TransactionRow:
    """Ask the chain about an unsettled transaction; a chain error leaves it as it is."""
    wallet = await wallets.get_wallet(state, tx.wallet_id)
    try:
        outcome = await state.chain_for(wallet.network).status(tx.signature or "")
    except WaiaasError:
        return tx
    if outcome is None or outcome.status in UNSETTLED:
        return tx
    return await _settle(state, tx.id, outcome)


async def reconcile(state: DaemonState) -> int:
    """At start: settle every PENDING or SUBMITTED transaction a crash left behind.

    Never sent twice: a transaction is resubmitted only as the very bytes that
    were signed, so a chain that already has it answers with the same signature.
    """
    settled = 0
    for tx in await state.db.unsettled_transactions():
        await _reconcile_one(state, tx)
        settled += 1
    return settled


async def _reconcile_one(state: DaemonState, tx: TransactionRow) -> None:
    if tx.type == "AIRDROP" or not tx.signature or not tx.raw:
        # Nothing signed reached a chain: an airdrop's runtime step and its
        # record are saved together, so an unsettled one never took effect.
        await _update(state, tx.id, status="FAILED", error="not sent: the daemon stopped first")
        return
    wallet = await wallets.get_wallet(state, tx.wallet_id)
    chain = state.chain_for(wallet.network)
    try:
        outcome = await chain.status(tx.signature)
        if outcome is None:
            outcome = await chain.submit(PreparedTransfer(tx.signature, tx.raw))
    except WaiaasError as exc:
        log.warning("transaction %s: cannot reconcile yet (%s)", tx.id, exc.code)
        return
    await _settle(state, tx.id, outcome)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        # SQLite's integers stop at 2^63 - 1; a larger "seq" names nothing we gave out.
        if kind != "seq" or not value.isascii() or not value.isdigit() or len(value) > 19:
            raise ValueError
        seq = int(value)
        if seq >= 2**63:
            raise ValueError
        return seq
    except (ValueError, UnicodeDecodeError):
        raise WaiaasError("INVALID_REQUEST", "cursor: not a cursor this API gave out") from None
