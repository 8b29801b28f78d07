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
import json
import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain.interface import Chain, Outcome, PreparedTransfer, Signer
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
    network: str | None = None,
) -> TransactionRow:
    """parse (route) -> decide -> record -> sign -> submit -> settle, under the wallet's lock.

    ``token_ref`` (a registry symbol or a mint) makes it a token send: its own
    totals, limits and balance; the native coin pays only the fee and any new
    account's rent. ``network`` (default: the wallet's) must be of the wallet's
    chain family and allowed by the policy (``allowedNetworks``).
    """
    wallet = await wallets.get(state, auth.claims.wallet_id)
    network = wallets.network_for(wallet, network)
    to = wallets.family_of_wallet(wallet).check_address(to, "to")
    session = auth.session
    if network != wallet.network:
        await _check_network(state, wallet, session.id, network, to, amount)
    token = None
    if token_ref is not None:
        chain = state.chain_for(network)
        token = await tokens.resolve(state.db, chain, network, token_ref)
    appraisal: usd.Appraisal | None = None
    while True:
        try:
            return await _decide_and_send(
                state, wallet, session, to, amount, memo, token, appraisal, network
            )
        except usd.NeedsPrice:
            # A dollar rule needs a price the daemon has not got fresh: fetched outside
            # the wallet's lock (a slow source never holds its other sends), then the
            # send is decided again under it, totals read anew. Once at most.
            appraisal = await appraise(state, wallet, amount, token, network)


async def _decide_and_send(
    state: DaemonState,
    wallet: WalletRow,
    session: Any,
    to: str,
    amount: int,
    memo: str | None,
    token: tokens.Token | None,
    appraisal: usd.Appraisal | None,
    network: str,
) -> TransactionRow:
    actor = f"session:{session.id}"
    mint = None if token is None else token.mint
    async with state.wallet_lock(wallet.id):
        now = state.now()
        inputs = await state.db.send_inputs(wallet.id, session.id, now, mint=mint)
        error = live_error(inputs)
        if error is not None:
            raise error
        rules = policy.load(inputs.policy)
        appraisal = at_hand(
            state, wallet, appraisal, rules, session.constraints, amount, token, network
        )
        decision = policy.decide(
            rules,
            session.constraints,
            totals_of(inputs),
            to=to,
            amount=amount,
            now=now,
            token=mint,
            usd=usd.inputs_of(appraisal, inputs),
            network=network,
            home_network=wallet.network,
        )
        if decision.error is not None:
            await _deny(state, wallet, session.id, rules, decision.error, to, amount, mint)
            raise decision.error
        assert decision.tier is not None
        await check_balance(state, wallet, amount, to=to, token=token, network=network)
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
                network,
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
            network=network,
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
                    network=network,
                    **noted,
                )
            ],
        )
        return await sign_and_submit(state, wallet, tx)


async def _check_network(
    state: DaemonState, wallet: WalletRow, session_id: str, network: str, to: str, amount: int
) -> None:
    """allowedNetworks, before any node of that network is asked anything (the token).

    ``decide`` checks it again under the lock; a denial here is the same denial.
    """
    row = await state.db.get_policy(wallet.id)
    rules = policy.load(row.document if row is not None else None)
    error = policy.network_error(rules, network, wallet.network)
    if error is not None:
        await _deny(state, wallet, session_id, rules, error, to, amount)
        raise error


def network_of(wallet: WalletRow, tx: TransactionRow) -> str:
    return tx.network or wallet.network


def at_hand(
    state: DaemonState,
    wallet: WalletRow,
    appraisal: usd.Appraisal | None,
    rules: policy.Policy,
    constraints: dict[str, Any] | None,
    amount: int,
    token: tokens.Token | None,
    network: str | None = None,
) -> usd.Appraisal | None:
    """``usd.at_hand`` for a send of the native coin (``token`` None) or of a token, on
    ``network`` (default: the wallet's)."""
    if token is None:
        return usd.at_hand(state, wallet, appraisal, rules, constraints, amount, network=network)
    return usd.at_hand(
        state,
        wallet,
        appraisal,
        rules,
        constraints,
        amount,
        mint=token.mint,
        symbol=token.symbol,
        decimals=token.decimals,
        network=network,
    )


async def appraise(
    state: DaemonState,
    wallet: WalletRow,
    amount: int,
    token: tokens.Token | None,
    network: str | None = None,
) -> usd.Appraisal:
    """The value of a send with its price fetched when needed (outside any lock)."""
    if token is None:
        return await usd.appraise(state, wallet, amount, network=network)
    return await usd.appraise(
        state,
        wallet,
        amount,
        mint=token.mint,
        symbol=token.symbol,
        decimals=token.decimals,
        network=network,
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
    network: str | None = None,
) -> None:
    """Step 7: the amount plus the fee must be there (the chain itself refuses rent).

    For a token: the amount in the sender's token account, and fee plus the
    rent of the recipient's new token account in the native coin, both before signing.
    """
    chain = state.chain_for(network or wallet.network)
    if token is not None:
        await _check_token_balance(chain, wallet, amount, to or "", token)
        return
    fee = await chain.transfer_fee()
    balance = await chain.get_balance(wallet.address)
    if balance < amount + fee:
        unit = _unit(chain)
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The balance is {balance} {unit}; the send needs {amount + fee} "
            f"({amount} + {fee} fee at most).",
        )


def _unit(chain: Chain) -> str:
    return "lamports" if chain.native_symbol == "SOL" else f"base units of {chain.native_symbol}"


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
    native = await chain.get_balance(wallet.address)
    if native < cost.lamports:
        symbol = chain.native_symbol
        rent = f" + {cost.rent} rent of the recipient's new token account" if cost.rent else ""
        raise WaiaasError(
            "INSUFFICIENT_BALANCE",
            f"The {symbol} balance is {native} {_unit(chain)}; this {token.label} send needs "
            f"{cost.lamports} in {symbol} ({cost.fee} fee at most{rent}).",
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
    network: str | None = None,
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
        network=network or wallet.network,
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
        network=network,
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
    network = network_of(wallet, tx)
    chain = state.chain_for(network)
    try:
        # The nonce (EVM) is taken under the wallet's lock, which every caller holds:
        # one sequence per wallet and network, across daemons on a shared database.
        sequence = await next_sequence(state, chain, wallet, network)
        prepared = await _prepare(chain, wallets.signer(state, wallet), tx, sequence)
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
            "nonce": prepared.sequence,
            "broadcast_at": state.now(),
            "updated_at": state.now(),
        },
        gate=True,
    )
    if passed is None:
        raise await _stopped_at_gate(state, tx, origin)
    return await _submit(state, tx.id, chain, prepared)


async def next_sequence(
    state: DaemonState, chain: Chain, wallet: WalletRow, network: str
) -> int | None:
    """The first nonce at or above the chain's floor that no record of the wallet holds.

    Contiguous records give the next one in line; a nonce a refused transaction gave
    back (a gap, which leaves the later ones waiting in the mempool) is taken first.
    """
    floor = await chain.sequence_floor(wallet.address)
    if floor is None:
        return None
    sequence = floor
    for held in await state.db.held_sequences(wallet.id, network, floor):
        if held != sequence:
            break
        sequence += 1
    return sequence


async def _prepare(
    chain: Chain, signer: Signer, tx: TransactionRow, sequence: int | None
) -> PreparedTransfer:
    to, amount = tx.to_address or "", int(tx.amount)
    token = tokens.of_transaction(tx)
    if token is None:
        return await chain.prepare_transfer(
            signer, to, amount, tx.memo, sequence=sequence, record=tx.id
        )
    return await chain.prepare_token_transfer(
        signer,
        to,
        token.mint,
        amount,
        token.decimals,
        token.program,
        tx.memo,
        sequence=sequence,
        record=tx.id,
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
            "INVALID_REQUEST",
            f"Airdrops are allowed on local, devnet and evm-local, not {wallet.network}.",
        )
    token = None
    mint_to = getattr(chain, "mint_to", None)
    if token_ref is not None:
        if mint_to is None:
            raise WaiaasError(
                "INVALID_REQUEST",
                f"token: token airdrops mint the local chains' test tokens; the "
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
            network=wallet.network,
            extra=tokens.columns(token),
        )
        try:
            if token is None:
                outcome = await chain.airdrop(wallet.address, amount)
            else:
                assert mint_to is not None
                outcome = await mint_to(wallet.address, token.mint, amount)
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
    network: str | None = None,
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
            "network": network or wallet.network,
            **(extra or {}),
        },
        [dataclasses.replace(e, transaction_id=tx_id) for e in events],
    )


async def _submit(
    state: DaemonState, tx_id: str, chain: Chain, prepared: PreparedTransfer
) -> TransactionRow:
    try:
        outcome = await chain.submit(prepared)
    except WaiaasError as exc:
        # The node may or may not have it: keep SUBMITTED, reconcile by signature.
        log.warning("transaction %s: submit failed (%s); will reconcile", tx_id, exc.code)
        await _update(state, tx_id, error=f"outcome unknown: {exc.message}")
        return await _get(state, tx_id)
    settled = await _settle(state, tx_id, outcome)
    if settled.status == "SUBMITTED" and settled.nonce is not None:
        state.waiting_changed()  # the scheduler follows it up (confirmations, stuck)
    return settled


async def _settle(state: DaemonState, tx_id: str, outcome: Outcome) -> TransactionRow:
    changes: dict[str, Any] = {
        "status": outcome.status,
        "signature": outcome.signature,
        "error": outcome.error or outcome.note,
        "updated_at": state.now(),
    }
    if outcome.status == "SUBMITTED":
        # Still on its way (the record is SUBMITTED already): what is new is where it stands.
        del changes["status"]
    if outcome.fee is not None:
        changes["fee"] = str(outcome.fee)
    elif outcome.status == "FAILED":
        # Refused without entering a block: nothing was paid, and its nonce (if it
        # has one) is free for the next send, which takes it.
        changes["nonce"] = None
    # The row as written; read only when the write matched nothing (settled already).
    settled = await state.db.settle_transaction(tx_id, changes, outcome.accounts)
    return settled or await _get(state, tx_id)


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
    """Ask the chain about an unsettled transaction; a chain error leaves it as it is.

    Where a transaction can be stuck and replaced (EVM), reading it also follows it
    up (``follow_up``), when no send of the wallet holds its lock just now.
    """
    wallet = await wallets.get(state, tx.wallet_id)
    chain = state.chain_for(network_of(wallet, tx))
    if chain.replace_after is not None:
        async with state.db.try_wallet_lock(tx.wallet_id) as free:
            fresh = await state.db.get_transaction(tx.id) if free else None
            if fresh is None or fresh.status not in UNSETTLED:
                return fresh or tx
            return await follow_up(state, wallet, fresh)
    try:
        outcome = await chain.status(tx.signature or "")
    except WaiaasError:
        return tx
    if outcome is None or outcome.status in UNSETTLED:
        return tx
    return await _settle(state, tx.id, outcome)


async def follow_up(state: DaemonState, wallet: WalletRow, tx: TransactionRow) -> TransactionRow:
    """Bring a SUBMITTED send with a nonce up to date; the caller holds the wallet's lock.

    - Mined (its hash or one a fee bump replaced): settled once deep enough;
      until then SUBMITTED, saying where it stands.
    - Unknown to the node (dropped, or its block reorged away and the node forgot
      it): the very bytes stored are broadcast again.
    - In the mempool longer than the chain's ``replace_after``: re-signed with a
      higher fee, same nonce and contents, stored before it is broadcast; the old
      hash is kept, since either may still be mined.
    """
    if not tx.signature or not tx.raw:
        return tx
    chain = state.chain_for(network_of(wallet, tx))
    try:
        outcome = await _seen(chain, tx)
        if outcome is None:
            outcome = await chain.submit(PreparedTransfer(tx.signature, tx.raw, sequence=tx.nonce))
            if outcome.status == "SUBMITTED":
                await _update(state, tx.id, broadcast_at=state.now())
        elif outcome.status == "SUBMITTED" and outcome.fee is None and _stuck(state, chain, tx):
            outcome = await _replace(state, wallet, chain, tx) or outcome
    except WaiaasError as exc:
        log.info("transaction %s: cannot follow up yet (%s)", tx.id, exc.code)
        return tx
    return await _settle(state, tx.id, outcome)


async def _seen(chain: Chain, tx: TransactionRow) -> Outcome | None:
    """What the chain knows of the transaction under any hash it was signed with."""
    first: Outcome | None = None
    for signature in (tx.signature or "", *reversed(tx.replaced_hashes)):
        outcome = await chain.status(signature)
        if outcome is None:
            continue
        if outcome.fee is not None:  # mined: that is the one
            return outcome
        first = first or outcome
    return first


def _stuck(state: DaemonState, chain: Chain, tx: TransactionRow) -> bool:
    after = chain.replace_after
    since = tx.broadcast_at or tx.updated_at
    return after is not None and state.now() - since >= after


async def _replace(
    state: DaemonState, wallet: WalletRow, chain: Chain, tx: TransactionRow
) -> Outcome | None:
    assert tx.raw is not None and tx.signature is not None
    signer = await wallets.unlock_signer(state, wallet)
    bumped = await chain.bump_fee(signer, tx.raw)
    if bumped is None:
        return None
    waited = state.now() - (tx.broadcast_at or tx.updated_at)
    # Stored before the chain sees it, as every signed transaction is.
    await _update(
        state,
        tx.id,
        signature=bumped.signature,
        raw=bumped.raw,
        replaced=json.dumps([*tx.replaced_hashes, tx.signature]),
        broadcast_at=state.now(),
        error=f"replaced with a higher fee after {waited} s unmined (same nonce and contents)",
    )
    log.info("transaction %s: stuck %d s, replaced by %s", tx.id, waited, bumped.signature)
    outcome = await chain.submit(bumped)
    if outcome.status == "SUBMITTED":
        note = f"replaced with a higher fee after {waited} s unmined; {outcome.note or 'sent'}"
        outcome = dataclasses.replace(outcome, note=note)
    return outcome


async def reconcile_one(state: DaemonState, tx: TransactionRow) -> None:
    """Settle one unsettled transfer or airdrop a crash left behind (``settlement`` calls it).

    Never sent twice: a transaction is resubmitted only as the very bytes that
    were signed, so a chain that already has it answers with the same signature.
    """
    if tx.type == "TRANSFER" and not tx.signature and tx.decided_at is not None:
        # A claimed queued (or approved) send stopped before its signature was stored: nothing
        # reached a chain, so it waits again where it came from, for whoever runs next.
        origin = "QUEUED" if tx.tier == "DELAY" else "PENDING_APPROVAL"
        await _update(
            state,
            tx.id,
            status=origin,
            error="not sent yet: the daemon or its database stopped before it went out",
        )
        return
    if tx.type == "AIRDROP" or not tx.signature or not tx.raw:
        # Nothing signed reached a chain: an airdrop's runtime step and its
        # record are saved together, so an unsettled one never took effect.
        await _update(state, tx.id, status="FAILED", error="not sent: the daemon stopped first")
        return
    wallet = await wallets.get(state, tx.wallet_id)
    chain = state.chain_for(network_of(wallet, tx))
    if chain.replace_after is not None:
        await follow_up(state, wallet, tx)
        return
    # A chain error (the node away) raises: the caller logs it, the record stays as it is.
    outcome = await chain.status(tx.signature)
    if outcome is None:
        outcome = await chain.submit(PreparedTransfer(tx.signature, tx.raw))
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
