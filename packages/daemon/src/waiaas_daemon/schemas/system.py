"""Models of the public and admin routes: health, nonce, status, errors."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from waiaas_core.errors import ERRORS
from waiaas_daemon.schemas._base import Model, Network

Count = Annotated[int, Meta(ge=0)]
UnixTime = Annotated[int, Meta(ge=0, description="Unix time, seconds.")]


class ErrorBody(Model):
    code: str
    message: str
    retryable: bool
    request_id: str
    hint: str | None = None


ERROR_CODES = tuple(ERRORS)


class FailingWorker(Model):
    """A background worker failing now (docs/rest-api.md, GET /health)."""

    worker: Annotated[
        str,
        Meta(
            description="scheduler, settlement, notifications, telegram, mcp, or storage "
            "(the database itself)."
        ),
    ]
    since: UnixTime
    failures: Annotated[int, Meta(ge=1, description="Failed tries in a row.")]
    error: Annotated[str, Meta(description="The last error: a code or an exception's name.")]


class Health(Model):
    status: Literal["ok", "degraded"]
    version: str
    uptime_seconds: Count
    failing: list[FailingWorker]


class Nonce(Model):
    nonce: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    expires_at: UnixTime


class AdminStatus(Model):
    status: Literal["ok"]
    version: str
    uptime_seconds: Count
    network: Network
    wallet_count: Count
    active_session_count: Count
    kill_switch: KillSwitch


class KillSwitch(Model):
    active: bool
    reason: str | None
    since: UnixTime | None
