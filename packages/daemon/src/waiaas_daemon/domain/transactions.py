"""Spending: checks, a record before anything is signed, and reconciliation after a crash.

A send is decided by ``policy.decide`` under the wallet's lock, then goes
PENDING (recorded before signing) → SUBMITTED (signature and signed bytes
saved, then handed to the chain) → CONFIRMED | FAILED; DELAY and APPROVAL
sends wait as QUEUED or PENDING_APPROVAL (``pending.py`` runs them). Sends of
one wallet are serialized, so limits and the balance hold under parallel sends.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from solders.keypair import Keypair

from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain.base import Chain, Outcome, PreparedTransfer
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.domain import policy, tokens, usd, wallets
from waiaas_daemon.domain.controls import OWNER_REASON
from waiaas_daemon.domain.sessions import Authenticated
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, SendInputs, TransactionRow, WalletRow

log = logging.getLogger("waiaas_daemon.domain.transactions")

DAY = 86400
UNSETTLED = ("PENDING", "SUBMITTED")


def live_error(inputs: SendInputs) -> WaiaasError | None:
    """SPEC 12 step 1, read under the send lock: may this wallet's session spend at all?"""
    if inputs.wallet_status == "TERMINATED":
        return WaiaasError("WALLET_TERMINATED")
    if inputs.wallet_status == "SUSPENDED":
        return suspended_error(inputs.wallet_reason)
    if inputs.kill_switch:
        return WaiaasError("KILL_SWITCH_ACTIVE", hint="The owner must turn the kill switch off.")
    if inputs.session_revoked:
        return WaiaasError("SESSION_REVOKED")
    return None


_AUTO = re.compile(r"^auto: (\d+) denials within an hour$")


def suspended_error(reason: str | None) -> WaiaasError:
    """WALLET_SUSPENDED saying who suspended the wallet: the owner, or the daemon after
    the agent's own refused requests (``autoSuspendAfterDenials``)."""
    hint = "Only the wallet's owner can resume it: waiaas wallet resume WALLET."
    auto = _AUTO.match(reason or "")
    if auto is not None:
        return WaiaasError(
            "WALLET_SUSPENDED",
            f"The wallet was suspended automatically after {auto.group(1)} denied requests "
            "within an hour (the policy's autoSuspendAfterDenials), not by its owner.",
            hint=hint,
        )
    said = f": {reason}" if reason and reason != OWNER_REASON else "."
    return WaiaasError("WALLET_SUSPENDED", f"The wallet is suspended by its owner{said}", hint=hint)


def totals_of(inputs: SendInputs) -> policy.Totals:
    return policy.Totals(
        daily=inputs.daily,
        monthly=inputs.monthly,
        sends_this_hour=inputs.sends_this_hour,
        oldest_this_hour=inputs.oldest_this_hour,
    )


async def send(
    state: DaemonState,
    auth: Authenticated,
    to: str,
    amount: int,
    memo: str | None,
    token_ref: str | None = None,
) -> TransactionRow:
    """parse (route) -> decide -> record -> sign -> submit -> settle, under the wallet's lock.

    ``token_ref`` (a registry symbol or a mint) makes it a token send: its own
    totals, limits and balance; SOL pays only the fee and any new account's rent.
    """
    wallet = await wallets.get(state, auth.claims.wallet_id)
    session = auth.session
    actor = f"session:{session.id}"
    token = None
    if token_ref is not None:
        chain = state.chain_for(wallet.network)
        token = await tokens.resolve(state.db, chain, wallet.network, token_ref)
    mint = None if token is None else token.mint
    # A dollar rule needs the send's value: priced before the lock, so a slow price
    # source never holds the wallet's other sends (the totals are read under it).
    appraisal = await appraise_if_needed(state, wallet, session, amount, token)
    async with state.wallet_lock(wallet.id):
        now = state.now()
        inputs = await state.db.send_inputs(wallet.id, session.id, now, mint=mint)
        error = live_error(inputs)
        if error is not None:
            raise error
        rules = policy.load(inputs.policy)
        if appraisal is None and policy.needs_usd(rules, session.constraints):
            # The policy gained a dollar rule between the two reads.
            appraisal = await appraise(state, wallet, amount, token)
        decision = policy.decide(
            rules,
            session.constraints,
            totals_of(inputs),
            to=to,
            amount=amount,
            now=now,
            token=mint,
            usd=usd.inputs_of(appraisal, inputs),
            network=wallet.network,
        )
        if decision.error is not None:
            await _deny(state, wallet, session.id, rules, decision.error, to, amount, mint)
            raise decision.error
        assert decision.tier is not None
        await check_balance(state, wallet, amount, to=to, token=token)
        valued, noted = usd.record(appraisal, decision)
        if decision.tier in ("DELAY", "APPROVAL"):
            return await _hold(
                state,
                wallet,
                session.id,
                rules,
                decision.tier,
                to,
                amount,
                memo,
                token,
                valued=valued,
                noted=noted,
            )
        tx = await _record(
            state,
            wallet,
            "TRANSFER",
            to,
            amount,
            memo,
            session.id,
            tier=decision.tier,
            extra={**tokens.columns(token), **valued},
            events=[
                _event(
                    actor,
                    "send_requested",
                    wallet.id,
                    session.id,
                    None,
                    tier=decision.tier,
                    to=to,
                    amount=str(amount),
                    mint=mint,
                    **noted,
                )
            ],
        )
        return await sign_and_submit(state, wallet, tx)


async def appraise_if_needed(
    state: DaemonState,
    wallet: WalletRow,
    session: Any,
    amount: int,
    token: tokens.Token | None,
) -> usd.Appraisal | None:
    stored = await state.db.get_policy(wallet.id)
    rules = policy.load(stored.document if stored else None)
    if not policy.needs_usd(rules, session.constraints):
        return None
    return await appraise(state, wallet, amount, token)


async def appraise(
    state: DaemonState, wallet: WalletRow, amount: int, token: tokens.Token | None
) -> usd.Appraisal:
    if token is None:
        return await usd.appraise(state, wallet, amount)
    return await usd.appraise(
        state, wallet, amount, mint=token.mint, symbol=token.symbol, decimals=token.decimals
    )


def _event(
    actor: str,
    action: str,
    wallet_id: str | None,
    session_id: str | None,
    tx_id: str | None,
    **details: Any,
) -> Event:
    return Event(actor, action, wallet_id, session_id, tx_id, details or None)


async def _deny(
    state: DaemonState,
    wallet: WalletRow,
    session_id: str,
    rules: policy.Policy,
    error: WaiaasError,
    to: str,
    amount: int,
    mint: str | None = None,
) -> None:
    """A denial records no transaction, only the event, and counts toward auto-suspension."""
    threshold = rules.auto_suspend_after_denials
    if threshold is None:
        threshold = policy.DEFAULT_AUTO_SUSPEND
    event = _event(
        f"session:{session_id}",
        "send_denied",
        wallet.id,
        session_id,
        None,
        code=error.code,
        rule=error.message,
        to=to,
        amount=str(amount),
        mint=mint,
    )
    count = await state.db.record_denial(wallet.id, state.now(), threshold, [event])
    if count is not None:
        log.warning("wallet %s suspended after %d denials within an hour", wallet.id, count)


async def check_balance(
    state: DaemonState,
    wallet: WalletRow,
    amount: int,
    *,
    to: str | None = None,
    token: tokens.Token | None = None,
) -> None:
    """Step 7: the amount plus the fee must be there (the chain itself refuses rent).

    For a token: the amount in the sender's token account, and fee plus the
    rent of the recipient's new token account in SOL, both before signing.
    """
    chain = state.chain_for(wallet.network)
    if token is not None:
        await _check_token_balance(chain, wallet, amount, to or "", token)
        return
    fee = await chain.transfer_fee()
    balance = await chain.get_balance(wallet.address)
    if balance < amount + fee:
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The balance is {balance} lamports; the send needs {amount + fee} "
            f"({amount} + {fee} fee).",
        )


async def _check_token_balance(
    chain: Chain, wallet: WalletRow, amount: int, to: str, token: tokens.Token
) -> None:
    held = await chain.token_balance(wallet.address, token.mint, token.program)
    if held < amount:
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The {token.label} balance is {held} base units; the send needs {amount}.",
        )
    cost = await chain.token_transfer_cost(to, token.mint, token.program)
    sol = await chain.get_balance(wallet.address)
    if sol < cost.lamports:
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The SOL balance is {sol} lamports; this {token.label} send needs {cost.lamports} "
            f"in SOL ({cost.fee} fee + {cost.rent} rent of the recipient's new token account).",
        )


async def _hold(
    state: DaemonState,
    wallet: WalletRow,
    session_id: str,
    rules: policy.Policy,
    tier: str,
    to: str,
    amount: int,
    memo: str | None,
    token: tokens.Token | None = None,
    *,
    valued: dict[str, Any] | None = None,
    noted: dict[str, Any] | None = None,
) -> TransactionRow:
    """DELAY: QUEUED until executeAt; APPROVAL: PENDING_APPROVAL until the owner decides."""
    now = state.now()
    if tier == "DELAY":
        delay = rules.delay_seconds
        when = {"execute_at": now + (policy.DEFAULT_DELAY_SECONDS if delay is None else delay)}
        status, action = "QUEUED", "send_queued"
    else:
        timeout = rules.approval_timeout or policy.DEFAULT_APPROVAL_TIMEOUT
        when = {"approval_expires_at": now + timeout}
        status, action = "PENDING_APPROVAL", "approval_required"
    event = _event(
        f"session:{session_id}",
        action,
        wallet.id,
        session_id,
        None,
        tier=tier,
        to=to,
        amount=str(amount),
        mint=None if token is None else token.mint,
        **when,
        **(noted or {}),
    )
    held = await _record(
        state,
        wallet,
        "TRANSFER",
        to,
        amount,
        memo,
        session_id,
        tier=tier,
        status=status,
        extra={**when, **tokens.columns(token), **(valued or {})},
        events=[event],
    )
    state.waiting_changed()
    return held


async def sign_and_submit(
    state: DaemonState, wallet: WalletRow, tx: TransactionRow, *, origin: str | None = None
) -> TransactionRow:
    """Sign a PENDING record, pass the gate with its signature saved, then submit.

    ``origin`` is where a queued or approved send came from: if the kill switch
    or a suspension stops it at the gate, it goes back there to wait.
    """
    chain = state.chain_for(wallet.network)
    try:
        prepared = await _prepare(chain, wallets.signer(state, wallet), tx)
    except BaseException as exc:
        # Nothing was signed, so nothing can reach the chain: the record is
        # final, and must not count against the daily limit.
        reason = exc.message if isinstance(exc, WaiaasError) else "not signed"
        transient = isinstance(exc, WaiaasError) and exc.retryable
        with anyio.CancelScope(shield=True):
            if origin is not None and transient:
                # A waiting send the chain could not take yet waits again: the
                # scheduler retries a queued one, the owner may approve again.
                await _update(state, tx.id, status=origin, error=f"not sent yet: {reason}")
            else:
                await _update(state, tx.id, status="FAILED", error=f"not sent: {reason}")
        raise
    # Signature and signed bytes are saved before the chain sees them, so
    # reconciliation can always ask the chain about this very transaction. The
    # same statement is the last check of step 1: a revocation, suspension or
    # kill switch committed before it stops the send.
    passed = await state.db.swap_transaction(
        tx.id,
        ("PENDING",),
        {
            "status": "SUBMITTED",
            "signature": prepared.signature,
            "raw": prepared.raw,
            "updated_at": state.now(),
        },
        gate=True,
    )
    if passed is None:
        raise await _stopped_at_gate(state, tx, origin)
    return await _submit(state, tx.id, wallet, prepared)


async def _prepare(chain: Chain, signer: Keypair, tx: TransactionRow) -> PreparedTransfer:
    to, amount = tx.to_address or "", int(tx.amount)
    token = tokens.of_transaction(tx)
    if token is None:
        return await chain.prepare_transfer(signer, to, amount, tx.memo)
    return await chain.prepare_token_transfer(
        signer, to, token.mint, amount, token.decimals, token.program, tx.memo
    )


async def _stopped_at_gate(
    state: DaemonState, tx: TransactionRow, origin: str | None
) -> WaiaasError:
    inputs = await state.db.send_inputs(tx.wallet_id, tx.session_id, state.now())
    error = live_error(inputs) or WaiaasError("TRANSACTION_NOT_PENDING")
    waits = origin is not None and error.code in ("KILL_SWITCH_ACTIVE", "WALLET_SUSPENDED")
    changes: dict[str, Any] = (
        {"status": origin} if waits else {"status": "FAILED", "error": f"not sent: {error.message}"}
    )
    await state.db.swap_transaction(tx.id, ("PENDING",), {**changes, "updated_at": state.now()})
    return error


async def airdrop(
    state: DaemonState, wallet_id: str, amount: int, token_ref: str | None = None
) -> TransactionRow:
    """SOL from the chain's faucet, or (``token_ref``, local only) the test mint's tokens."""
    wallet = await wallets.active_wallet(state, wallet_id)
    chain = state.chain_for(wallet.network)
    if not chain.airdrop_allowed:
        raise WaiaasError(
            "INVALID_REQUEST", f"Airdrops are allowed on local and devnet, not {wallet.network}."
        )
    token = None
    if token_ref is not None:
        if not isinstance(chain, LocalChain):
            raise WaiaasError(
                "INVALID_REQUEST",
                f"token: token airdrops mint the local chain's test tokens; the "
                f"{wallet.network} chain has no mint authority of the daemon's.",
            )
        token = await tokens.resolve(state.db, chain, wallet.network, token_ref)
    async with state.wallet_lock(wallet.id):
        tx = await _record(
            state,
            wallet,
            "AIRDROP",
            wallet.address,
            amount,
            None,
            None,
            extra=tokens.columns(token),
        )
        try:
            if token is None:
                outcome = await chain.airdrop(wallet.address, amount)
            else:
                assert isinstance(chain, LocalChain)
                outcome = await chain.mint_to(wallet.address, token.mint, amount)
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
    *,
    tier: str | None = None,
    status: str = "PENDING",
    extra: dict[str, Any] | None = None,
    events: Sequence[Event] = (),
) -> TransactionRow:
    now = state.now()
    tx_id = str(uuid.uuid4())
    return await state.db.insert_send(
        {
            "id": tx_id,
            "wallet_id": wallet.id,
            "session_id": session_id,
            "type": kind,
            "status": status,
            "to_address": to,
            "amount": str(amount),
            "memo": memo,
            "created_at": now,
            "updated_at": now,
            "tier": tier,
            **(extra or {}),
        },
        [dataclasses.replace(e, transaction_id=tx_id) for e in events],
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
    await state.db.settle_transaction(
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
    await state.db.settle_transaction(tx_id, {**changes, "updated_at": state.now()})


async def _get(state: DaemonState, tx_id: str) -> TransactionRow:
    tx = await state.db.get_transaction(tx_id)
    assert tx is not None
    return tx


async def current(state: DaemonState, tx: TransactionRow) -> TransactionRow:
    """A transfer as the chain has it now (``settlement.current`` calls it)."""
    if tx.status in UNSETTLED and tx.signature:
        tx = await refresh(state, tx)
    return tx


async def refresh(state: DaemonState, tx: TransactionRow) -> TransactionRow:
    """Ask the chain about an unsettled transaction; a chain error leaves it as it is."""
    wallet = await wallets.get(state, tx.wallet_id)
    try:
        outcome = await state.chain_for(wallet.network).status(tx.signature or "")
    except WaiaasError:
        return tx
    if outcome is None or outcome.status in UNSETTLED:
        return tx
    return await _settle(state, tx.id, outcome)


async def reconcile_one(state: DaemonState, tx: TransactionRow) -> None:
    """Settle one unsettled transfer or airdrop a crash left behind (``settlement`` calls it).

    Never sent twice: a transaction is resubmitted only as the very bytes that
    were signed, so a chain that already has it answers with the same signature.
    """
    if tx.type == "TRANSFER" and not tx.signature and tx.decided_at is not None:
        # A claimed queued (or approved) send stopped before it was signed: nothing
        # reached a chain, so it waits again where it came from, for whoever runs next.
        origin = "QUEUED" if tx.tier == "DELAY" else "PENDING_APPROVAL"
        await _update(state, tx.id, status=origin, error="not sent yet: the daemon stopped first")
        return
    if tx.type == "AIRDROP" or not tx.signature or not tx.raw:
        # Nothing signed reached a chain: an airdrop's runtime step and its
        # record are saved together, so an unsettled one never took effect.
        await _update(state, tx.id, status="FAILED", error="not sent: the daemon stopped first")
        return
    wallet = await wallets.get(state, tx.wallet_id)
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
