"""``usd.chatApprovalMax``: a tap in the linked Telegram chat approves a send only when the
dollar value recorded at its decision is within the limit; without a value (no price)
there is no Approve button. The fake Telegram and price servers speak the real formats."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.daemon.fake_telegram import OWNER, TOKEN, FakeTelegram, fake_telegram
from tests.daemon.test_telegram import link, running, tx_status, waiting_send
from tests.support.prices import PriceFakes, price_fakes
from waiaas_core.config import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with fake_telegram() as fake:
        yield fake


@pytest.fixture
def fakes() -> Iterator[PriceFakes]:
    with price_fakes() as running_fakes:
        running_fakes.set("SOL", "100")
        yield running_fakes


@pytest.fixture
def settings(telegram: FakeTelegram, fakes: PriceFakes) -> Settings:
    return Settings(
        min_session_ttl=10,
        session_ttl=3600,
        telegram_bot_token=TOKEN,
        telegram_chat_id=str(OWNER),
        telegram_api_url=telegram.url,
        pyth_url=fakes.pyth.url,
        coingecko_url=fakes.coingecko.url,
        jupiter_url=fakes.jupiter.url,
    )


@pytest.fixture
def dated(harness, fakes):
    fakes.clock = harness.clock
    return harness


async def test_a_send_worth_more_than_the_dollar_chat_limit_has_no_approve_button(dated, telegram):
    async with running(dated):
        await link(dated, telegram)
        # 2 SOL at $100 is $200: above a $150 chat limit.
        tx_id, prompt = await waiting_send(dated, telegram, usd={"chatApprovalMax": "150"})
        assert set(prompt.buttons()) == {"Reject"}
        assert "$150" in prompt.text
        assert await tx_status(dated, tx_id) == "PENDING_APPROVAL"


async def test_a_send_within_the_dollar_chat_limit_may_be_approved_by_a_tap(dated, telegram):
    async with running(dated):
        await link(dated, telegram)
        _, prompt = await waiting_send(dated, telegram, usd={"chatApprovalMax": "250"})
        assert set(prompt.buttons()) == {"Approve", "Reject"}


async def test_without_a_price_the_chat_cannot_approve_but_the_tier_is_unchanged(
    dated, telegram, fakes
):
    for source in fakes.sources:
        source.down = True
    async with running(dated):
        await link(dated, telegram)
        tx_id, prompt = await waiting_send(dated, telegram, usd={"chatApprovalMax": "250"})
        # Held by the token's own ceiling (instantMax 1 SOL), not by "no price".
        assert set(prompt.buttons()) == {"Reject"}
        assert await tx_status(dated, tx_id) == "PENDING_APPROVAL"
