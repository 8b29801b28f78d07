"""Each channel's request format against a local fake of that service, and the message texts."""

from __future__ import annotations

import json

import pytest

from tests.daemon.notify_receiver import FakeClock, eventually, receiving
from waiaas_core.config import NOTIFICATION_EVENTS, Settings
from waiaas_daemon.domain.notify import Notifier, render, settings_view
from waiaas_daemon.domain.notify.channels import Event, build_request, mask_url
from waiaas_daemon.domain.notify.messages import format_amount
from waiaas_daemon.storage import Database

pytestmark = pytest.mark.anyio

WALLET = "0b7d2a52-5a0e-4a39-9d39-3f7c9f0e2d11"
TX = "7c4b5e2a-3333-4a39-9d39-3f7c9f0e2d44"
TOKEN = "987654:ZZyyXX_secret"
BASE = "http://127.0.0.1:3100"
APPROVAL = {
    "transactionId": TX,
    "amount": "1500000000",
    "to": "Dest1111",
    "approvalExpiresAt": 1_800_003_600,
    "walletName": "main",
}


async def test_every_channel_gets_its_services_request_format(tmp_path):
    clock = FakeClock()
    async with receiving() as fake, Database.open(tmp_path / "waiaas.db") as db:
        settings = Settings(
            ntfy_url=f"{fake.url}/waiaas-alerts",
            telegram_bot_token=TOKEN,
            telegram_chat_id="-10042",
            telegram_api_url=fake.url,
            discord_webhook_url=f"{fake.url}/api/webhooks/1/dtoken",
            slack_webhook_url=f"{fake.url}/services/T0/B0/stoken",
        )
        notifier = Notifier(db, settings, clock=clock, sleep=clock.sleep)
        async with notifier.running():
            async with db.transaction() as conn:
                await notifier.enqueue(conn, "approval_required", WALLET, APPROVAL, at=clock())
            await eventually(lambda: len(fake.received) == 4)
    by_path = {r.path: r for r in fake.received}
    link = f"{BASE}/console/approvals/{TX}"

    ntfy = by_path["/waiaas-alerts"]
    assert ntfy.headers["title"] == "waiaas: approval required"
    assert ntfy.headers["priority"] == "high" and ntfy.headers["click"] == link
    assert f"waiaas approve {TX}" in ntfy.body.decode() and "1.5 SOL" in ntfy.body.decode()

    telegram = json.loads(by_path[f"/bot{TOKEN}/sendMessage"].body)
    assert set(telegram) == {"chat_id", "text"} and telegram["chat_id"] == "-10042"
    assert f"waiaas approve {TX}" in telegram["text"] and link in telegram["text"]

    discord = json.loads(by_path["/api/webhooks/1/dtoken"].body)
    assert set(discord) == {"content"} and f"waiaas reject {TX}" in discord["content"]
    slack = json.loads(by_path["/services/T0/B0/stoken"].body)
    assert set(slack) == {"text"} and link in slack["text"]
    for request in fake.received:
        assert request.headers["user-agent"].startswith("waiaas")


@pytest.mark.parametrize("event_type", NOTIFICATION_EVENTS)
def test_every_event_renders_even_without_data(event_type):
    message = render(event_type, {}, wallet_id=None, base_url=BASE)
    assert message.title.startswith("waiaas: ") and message.text
    assert message.title.isascii()  # ntfy sends it as an HTTP header


def test_waiting_sends_say_what_to_do_and_link_to_the_console():
    queued = render(
        "tx_queued", {**APPROVAL, "executeAt": 1_800_000_900}, wallet_id=WALLET, base_url=BASE + "/"
    )
    assert queued.link == f"{BASE}/console/approvals/{TX}"
    assert f"waiaas reject {TX}" in queued.text and "2027-01-15 08:15 UTC" in queued.text
    suspended = render(
        "wallet_suspended",
        {"reason": "auto: 5 denials within an hour"},
        wallet_id=WALLET,
        base_url=BASE,
    )
    assert f"waiaas wallet resume {WALLET}" in suspended.text
    assert (
        "kill-switch off"
        in render("kill_switch", {"active": True}, wallet_id=None, base_url=BASE).text
    )


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"amount": "1500000000"}, "1.5 SOL"),
        ({"amount": "1"}, "0.000000001 SOL"),
        ({"amount": "12500000", "decimals": 6, "symbol": "USDC"}, "12.5 USDC"),
        ({"amount": "3000000000"}, "3 SOL"),
        ({"amount": "x"}, "x SOL"),
        ({"amount": "250000000000000000", "network": "base"}, "0.25 ETH"),
        ({"amount": "2000000000000000000", "network": "polygon"}, "2 POL"),
    ],
)
def test_amounts_are_shown_in_whole_units(data, text):
    assert format_amount(data) == text


def test_long_messages_are_cut_to_the_services_limits():
    event = Event("e", "tx_failed", 1, WALLET, {"transactionId": TX, "error": "x" * 5000})
    message = render(event.type, event.data, wallet_id=WALLET, base_url=BASE)
    settings = Settings(
        discord_webhook_url="http://d/x", telegram_bot_token="t", telegram_chat_id="1"
    )
    discord = json.loads(build_request("discord", settings, event, message, now=1).content)
    telegram = json.loads(build_request("telegram", settings, event, message, now=1).content)
    assert len(discord["content"]) == 2000 and len(telegram["text"]) == 4096


def test_the_settings_view_masks_every_secret():
    settings = Settings(
        webhook_url="https://user:pw@hooks.example:8443/in/SEKRIT?k=SEKRIT",
        webhook_secret="SEKRIT",
        ntfy_url="https://ntfy.sh/SEKRIT",
        telegram_bot_token="SEKRIT",
        telegram_chat_id="42",
        discord_webhook_url="https://discord.com/api/webhooks/1/SEKRIT",
        slack_webhook_url="https://hooks.slack.com/services/SEKRIT",
        events=("tx_denied",),
    )
    view = settings_view(settings)
    assert "SEKRIT" not in json.dumps(view) and "pw" not in json.dumps(view)
    assert view["channels"] == ["webhook", "ntfy", "telegram", "discord", "slack"]
    assert view["webhookUrl"] == "https://hooks.example:8443/***"
    assert view["events"] == ["tx_denied"] and mask_url("") == ""
