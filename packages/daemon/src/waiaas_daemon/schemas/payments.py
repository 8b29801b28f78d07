"""Models of an x402 paid request: what the agent asks, what the resource and the payment were."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from waiaas_daemon.schemas._base import PATTERN_TEXT, Amount, Model, Uuid, check_amount
from waiaas_daemon.schemas.system import UnixTime
from waiaas_daemon.schemas.tokens import TokenRefField

MAX_URL = 2048
MAX_REQUEST_BODY = 32 * 1024
KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
PATTERN_TEXT[KEY_PATTERN] = "must be 8 to 128 letters, digits or . _ : -"
URL_PATTERN = r"^https?://[^\s\x00-\x1f\x7f]+$"
PATTERN_TEXT[URL_PATTERN] = "must be an http:// or https:// URL without spaces"


ContentType = Annotated[str, Meta(max_length=200, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")]


class PayRequest(Model):
    """Fetch ``url``; on a 402, pay it within the owner's rules and fetch it again."""

    url: Annotated[str, Meta(max_length=MAX_URL, pattern=URL_PATTERN)]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    body: Annotated[str, Meta(max_length=MAX_REQUEST_BODY)] | None = None
    content_type: ContentType | None = None
    max_amount: Amount | None = None
    idempotency_key: Annotated[str, Meta(pattern=KEY_PATTERN)] | None = None
    timeout_seconds: Annotated[float, Meta(gt=0, le=120)] = 30.0

    def check(self) -> None:
        if self.max_amount is not None:
            check_amount(self.max_amount, "maxAmount")


class Resource(Model):
    """The resource's answer; ``body`` is text, or base64 when ``bodyEncoding`` says so."""

    status: int
    content_type: str | None
    body: str
    body_encoding: Literal["utf-8", "base64"]
    size: int


class Payment(Model):
    """The PAYMENT transaction record's view: what was paid, to whom, and its settlement."""

    transaction_id: Uuid
    status: str
    tier: str | None
    amount: str
    token: TokenRefField | None
    pay_to: str | None
    network: str | None
    origin: str | None
    settlement: str | None
    error: str | None
    execute_at: UnixTime | None = None
    approval_expires_at: UnixTime | None = None


class PayResult(Model):
    """``outcome``: FREE (no payment asked), PAID, WAITING (the owner's policy holds the
    payment: QUEUED or PENDING_APPROVAL), or RECORDED (a retry with a used idempotency key:
    the payment as recorded, no new request to the resource)."""

    outcome: Literal["FREE", "PAID", "WAITING", "RECORDED"]
    resource: Resource | None
    payment: Payment | None
