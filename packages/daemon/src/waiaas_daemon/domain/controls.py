"""Owner controls of SPEC 13: the kill switch (every wallet) and suspension (one wallet)."""

from __future__ import annotations

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import wallets
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, KillSwitchRow, WalletRow

# The reason of a suspension the owner gave none for.
OWNER_REASON = "suspended by the owner"


async def refuse_if_kill_switch(state: DaemonState) -> None:
    """For session creation (sessions.issue calls it): 403 while the switch is on."""
    if (await state.db.get_kill_switch()).active:
        raise WaiaasError("KILL_SWITCH_ACTIVE", hint="The owner must turn the kill switch off.")


async def set_kill_switch(
    state: DaemonState, active: bool, reason: str | None, *, actor: str = "owner"
) -> KillSwitchRow:
    event = Event(
        actor, "kill_switch_on" if active else "kill_switch_off", details={"reason": reason}
    )
    row = await state.db.set_kill_switch(active, reason, state.now(), [event])
    if not active:
        state.waiting_changed()  # held sends may run now
    return row


async def suspend(state: DaemonState, wallet_id: str, reason: str | None) -> WalletRow:
    """ACTIVE -> SUSPENDED; suspending a suspended wallet again answers it as it is."""
    return await _change(state, wallet_id, "ACTIVE", "SUSPENDED", reason or OWNER_REASON)


async def resume(state: DaemonState, wallet_id: str) -> WalletRow:
    """SUSPENDED -> ACTIVE; the denials counted toward auto-suspension start afresh."""
    wallet = await _change(state, wallet_id, "SUSPENDED", "ACTIVE", None)
    state.waiting_changed()  # its held sends may run now
    return wallet


async def _change(
    state: DaemonState, wallet_id: str, from_status: str, to_status: str, reason: str | None
) -> WalletRow:
    wallet = await wallets.get(state, wallet_id)
    if wallet.status == "TERMINATED":
        raise WaiaasError("WALLET_TERMINATED")
    action = "wallet_suspended" if to_status == "SUSPENDED" else "wallet_resumed"
    event = Event("owner", action, wallet_id, details={"reason": reason})
    changed = await state.db.set_wallet_status(
        wallet_id, from_status, to_status, reason, state.now(), [event]
    )
    # Already in the state asked for (or changed meanwhile): answer what is there.
    return changed or await wallets.get(state, wallet_id)
