"""masterAuth: the kill switch and the suspension of one wallet (SPEC 13)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from waiaas_daemon.domain import controls
from waiaas_daemon.schemas.policy import Decision, WalletControl
from waiaas_daemon.schemas.system import KillSwitch
from waiaas_daemon.serving.api import operation, path_id
from waiaas_daemon.serving.auth import state_of
from waiaas_daemon.storage import KillSwitchRow, WalletRow

WALLET_ID = {"id": "Wallet id."}


def kill_switch_model(row: KillSwitchRow) -> KillSwitch:
    return KillSwitch(active=row.active, reason=row.reason, since=row.since)


def wallet_control(wallet: WalletRow) -> WalletControl:
    return WalletControl(
        wallet_id=wallet.id,
        status=wallet.status,  # type: ignore[arg-type]
        reason=wallet.status_reason,
        since=wallet.status_changed_at,
    )


async def kill_switch_on(request: Request, body: Decision) -> KillSwitch:
    """Turn the kill switch on: every send and session creation is refused."""
    return kill_switch_model(await controls.set_kill_switch(state_of(request), True, body.reason))


async def kill_switch_off(request: Request) -> KillSwitch:
    """Turn the kill switch off; held sends run again."""
    row = await controls.set_kill_switch(state_of(request), False, None)
    return kill_switch_model(row)


async def suspend_wallet(request: Request, body: Decision) -> WalletControl:
    """Suspend a wallet: its sends are refused until it is resumed."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    return wallet_control(await controls.suspend(state_of(request), wallet_id, body.reason))


async def resume_wallet(request: Request) -> WalletControl:
    """Resume a suspended wallet."""
    wallet_id = path_id(request, "id", "WALLET_NOT_FOUND")
    wallet = await controls.resume(state_of(request), wallet_id)
    return wallet_control(wallet)


def routes() -> list[Route]:
    return [
        operation("POST", "/v1/admin/kill-switch", kill_switch_on, auth="master", tag="controls"),
        operation(
            "DELETE", "/v1/admin/kill-switch", kill_switch_off, auth="master", tag="controls"
        ),
        *(
            operation(
                "POST",
                f"/v1/wallets/{{id}}/{action}",
                handler,
                auth="master",
                tag="controls",
                path_params=WALLET_ID,
                errors=("WALLET_NOT_FOUND", "WALLET_TERMINATED"),
            )
            for action, handler in (("suspend", suspend_wallet), ("resume", resume_wallet))
        ),
    ]
