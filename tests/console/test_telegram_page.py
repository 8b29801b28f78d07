"""Issue 19 in the console: the notifications page shows the Telegram bot and the linked
chat, and unlinks it with a CSRF-checked form."""

from __future__ import annotations

import pytest

from tests.console.conftest import Owner
from waiaas_core.config import Settings
from waiaas_daemon.storage import telegram as store

pytestmark = pytest.mark.anyio

BOT = Settings(
    min_session_ttl=10,
    session_ttl=3600,
    telegram_bot_token="123:SecretBotTokenValue",
    telegram_api_url="http://127.0.0.1:9",
)


async def test_without_a_bot_the_page_says_how_to_set_one(harness, owner: Owner):
    page = await owner.http.get("/console/notifications")
    assert "No Telegram bot" in page.text


@pytest.mark.parametrize("settings", [BOT])
async def test_the_linked_chat_is_shown_and_unlinked_with_the_csrf_token_only(
    harness, owner: Owner
):
    db = harness.state.db
    await store.new_link_code(db, "h", 1, 2**40)
    assert await store.use_link_code(db, "h", "4242", "ann", 1_800_000_000, [])
    page = await owner.http.get("/console/notifications")
    assert "Owner chat: <code>4242</code> (ann)" in page.text
    assert "SecretBotTokenValue" not in page.text
    refused = await owner.post("/console/notifications/telegram/unlink", {})
    assert refused.status_code == 403 and await store.owner_chat(db) is not None
    token = await owner.csrf_token("/console/notifications")
    done = await owner.post("/console/notifications/telegram/unlink", {"csrf_token": token})
    assert done.status_code == 303
    assert await store.owner_chat(db) is None
    page = await owner.http.get("/console/notifications")
    assert "No chat linked" in page.text
