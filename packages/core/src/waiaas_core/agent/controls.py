"""The owner's controls as the agent sees them: the kill switch and its wallet's status.

Both transports read them from ``GET /v1/session`` and show them the same way in
``get_session_info`` and ``waiaas://system/status``, so an agent learns of a stop
before its next send is refused.
"""

from __future__ import annotations

from typing import Any

KILL_SWITCH_MESSAGE = (
    "The wallet owner has turned the kill switch on: every send is refused "
    "(KILL_SWITCH_ACTIVE) until the owner turns it off. Reading still works. Tell the "
    "user; do not retry sends meanwhile."
)


def owner_controls(daemon: Any) -> dict[str, Any]:
    """From GET /v1/session: ``killSwitch`` while it is on (absent when off), the wallet."""
    if not isinstance(daemon, dict):
        return {}
    controls: dict[str, Any] = {}
    kill_switch = daemon.get("killSwitch")
    if isinstance(kill_switch, dict) and kill_switch.get("active") is True:
        controls["killSwitch"] = {
            "active": True,
            "reason": kill_switch.get("reason"),
            "since": kill_switch.get("since"),
            "message": KILL_SWITCH_MESSAGE,
        }
    wallet = daemon.get("wallet")
    if isinstance(wallet, dict):
        controls["wallet"] = {key: wallet.get(key) for key in ("status", "reason", "since")}
    return controls


def unhindered(controls: dict[str, Any]) -> bool:
    """No kill switch and the wallet not suspended: sends can go out."""
    wallet = controls.get("wallet", {})
    return "killSwitch" not in controls and wallet.get("status", "ACTIVE") == "ACTIVE"
