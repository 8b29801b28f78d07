"""Models of the audit log and notification routes (SPEC 13)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from msgspec import Meta

from waiaas_daemon.domain.audit import ACTIONS, MAX_LIMIT
from waiaas_daemon.domain.notify.outbox import MAX_LIST
from waiaas_daemon.schemas._base import Model, Query, Uuid
from waiaas_daemon.schemas.tokens import TokenRefField

if TYPE_CHECKING:
    AuditAction = str
else:
    # The audit module's vocabulary, so the document lists every action.
    AuditAction = Literal[tuple(sorted(ACTIONS))]
Seq = Annotated[int, Meta(ge=1)]
UnixTime = Annotated[int, Meta(ge=0, description="Unix time, seconds.")]


class AuditQuery(Query):
    wallet_id: Uuid | None = None
    action: AuditAction | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = 20
    cursor: Annotated[str, Meta(max_length=200)] | None = None


class AuditEntry(Model):
    seq: Seq
    at: UnixTime
    actor: str
    action: AuditAction
    wallet_id: str | None
    session_id: str | None
    transaction_id: str | None
    details: dict[str, Any]
    hash: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}$")]
    # Read beside the entry when it is listed, not part of it nor of its hash.
    wallet_name: Annotated[
        str | None, Meta(description="The wallet's name now (not part of the hashed entry).")
    ] = None
    session_label: Annotated[
        str | None, Meta(description="The session's label (`mcp`, a client's name), if any.")
    ] = None
    memo: Annotated[str | None, Meta(description="The memo of the send the entry names.")] = None
    origin: Annotated[
        str | None, Meta(description="The site a payment the entry names was made to.")
    ] = None
    token: Annotated[
        TokenRefField | None,
        Meta(description="The token the send moves (null for SOL): decimals for its amounts."),
    ] = None


class AuditPage(Model):
    items: list[AuditEntry]
    cursor: str | None


class AuditVerification(Model):
    ok: bool
    entries: Annotated[int, Meta(ge=0)]
    first_bad_seq: Seq | None


class NotificationQuery(Query):
    limit: Annotated[int, Meta(ge=1, le=MAX_LIST)] = 50


class Delivery(Model):
    event_id: str
    type: str
    wallet_id: str | None
    channel: str
    status: Literal["pending", "delivered", "dead"]
    attempts: Annotated[int, Meta(ge=0)]
    last_error: str | None
    created_at: UnixTime
    updated_at: UnixTime
    next_attempt_at: UnixTime | None


class NotificationSettings(Model):
    """``[notifications]`` with every URL masked and every secret as a boolean."""

    channels: list[str]
    events: list[str]
    webhook_url: str
    webhook_secret_set: bool
    ntfy_url: str
    telegram_bot_token_set: bool
    telegram_chat_id: str
    telegram_api_url: str
    discord_webhook_url: str
    slack_webhook_url: str


class Notifications(Model):
    settings: NotificationSettings
    deliveries: list[Delivery]


class NotificationTest(Model):
    id: str
    channels: list[str]
