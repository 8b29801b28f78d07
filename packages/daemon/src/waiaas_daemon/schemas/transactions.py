"""Models of sends and of the token's wallet's transaction records."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from waiaas_core.limits import DEFAULT_PAGE, MAX_PAGE
from waiaas_daemon.schemas._base import (
    Address,
    Amount,
    Memo,
    Model,
    Query,
    Uuid,
    check_address,
    check_amount,
)
from waiaas_daemon.schemas.system import UnixTime


class SendRequest(Model):
    to: Address
    amount: Amount
    memo: Memo | None = None

    def check(self) -> None:
        check_address(self.to, "to")
        check_amount(self.amount, "amount")


class SendResult(Model):
    id: Uuid
    status: str
    signature: str | None


class Transaction(Model):
    id: Uuid
    wallet_id: Uuid
    type: str
    status: str
    to: str | None
    amount: str
    memo: str | None
    signature: str | None
    error: str | None
    created_at: UnixTime
    updated_at: UnixTime


class TransactionPage(Model):
    items: list[Transaction]
    cursor: str | None


class TransactionListQuery(Query):
    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    cursor: Annotated[str, Meta(max_length=200)] | None = None
