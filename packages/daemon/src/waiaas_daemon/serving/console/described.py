"""Sends as the owner reads them: names for ids, the agent's label, the rule behind the tier.

One ``describe`` for the approvals list, the activity list and a send's own page,
so each shows the same words for the same facts.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from waiaas_core.networks import NETWORKS
from waiaas_daemon.domain import audit
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.console import story
from waiaas_daemon.storage import TransactionRow

WAITING = ("QUEUED", "PENDING_APPROVAL")


@dataclass(frozen=True)
class Described:
    """One send: the record, and what the owner needs beside it."""

    tx: TransactionRow
    wallet_name: str
    network: str  # the network the send went out on (its own record's, else its wallet's)
    left: float | None  # seconds to its deadline while it waits
    agent: str  # the session's label, or "session 1f2e3d4c"; "owner" for an airdrop
    recipient_name: str | None  # the owner's wallet it goes to, if it is one
    rule: str

    @property
    def unit(self) -> str:
        if self.tx.token_decimals is None:
            return native_unit(self.network)[0]
        return self.tx.token_symbol or "tokens"

    @property
    def decimals(self) -> int:
        if self.tx.token_decimals is None:
            return native_unit(self.network)[1]
        return self.tx.token_decimals

    @property
    def explorer(self) -> str | None:
        return story.explorer_url(self.network, self.tx.signature)

    @property
    def explorer_name(self) -> str:
        return story.explorer_name(self.network)


def native_unit(network: str) -> tuple[str, int]:
    """The native coin's symbol and decimals on ``network`` (SOL's for an unknown name)."""
    info = NETWORKS.get(network)
    return (info.native_symbol, info.native_decimals) if info else ("SOL", 9)


def network_of(tx: TransactionRow, wallet_network: str | None) -> str:
    """Where a send went out: its own record says so; a record from before the column
    existed (only Solana wallets then) falls back to its wallet's network."""
    return tx.network or wallet_network or "local"


def deadline(tx: TransactionRow) -> int | None:
    """When a waiting send goes out by itself (QUEUED) or expires (PENDING_APPROVAL)."""
    return tx.execute_at if tx.status == "QUEUED" else tx.approval_expires_at


async def describe(
    state: DaemonState, txs: Sequence[TransactionRow], *, rules: bool = True
) -> list[Described]:
    """``rules=False`` skips reading the rule behind each tier (a long list does not show it)."""
    wallets = {w.id: w for w in await state.db.list_wallets()}
    owned = {w.address: w.name for w in wallets.values()}
    labels = {s.id: s.label for s in await state.db.list_sessions(None)}
    history: dict[str, list[tuple[int, str | None]]] = {}
    asked: dict[str, int] = {}
    if rules and txs:
        history = await audit.policy_history(state.db.reader)
        asked = await audit.first_entries(state.db.reader, [tx.id for tx in txs])
    now = state.now()
    items = []
    for tx in txs:
        wallet = wallets.get(tx.wallet_id)
        at = deadline(tx)
        network = network_of(tx, wallet.network if wallet else None)
        items.append(
            Described(
                tx=tx,
                wallet_name=wallet.name if wallet else tx.wallet_id,
                network=network,
                left=None if at is None else at - now,
                agent=_agent(tx, labels),
                recipient_name=owned.get(tx.to_address) if tx.to_address else None,
                rule=(
                    _rule(tx, network, history.get(tx.wallet_id, []), asked.get(tx.id))
                    if rules
                    else ""
                ),
            )
        )
    return items


def _agent(tx: TransactionRow, labels: dict[str, str | None]) -> str:
    if tx.session_id is None:
        return "owner"
    return labels.get(tx.session_id) or f"session {tx.session_id[:8]}"


def _rule(
    tx: TransactionRow, network: str, history: list[tuple[int, str | None]], asked: int | None
) -> str:
    if tx.type not in ("TRANSFER", "PAYMENT"):
        return "-"
    raised = getattr(tx, "tier_reason", None)
    if raised:
        # A rule in dollars raised the tier; the record says which (or "no price").
        return f"{raised} (a rule in dollars)"
    if asked is None:
        return "unknown (the audit log has no entry for this send)"
    # The last policy set before the send's first entry: the one its decision read.
    index = bisect.bisect_right([seq for seq, _ in history], asked) - 1
    document = story.policy_document(history[index][1] if index >= 0 else None)
    if tx.token_decimals is None:
        unit, decimals = native_unit(network)
    else:
        unit, decimals = tx.token_symbol or "tokens", tx.token_decimals
    return story.rule_text(document, tx.tier, int(tx.amount), tx.token_mint, unit, decimals)
