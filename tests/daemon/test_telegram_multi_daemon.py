"""The Telegram bot with two real daemons on one PostgreSQL database: one of them long-polls
the (fake) Bot API, never both (Telegram answers 409 to a second getUpdates); SIGKILL it
and the other takes over where the shared offset says; a button tapped twice decides once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from solders.keypair import Keypair

from tests.daemon.fake_telegram import OWNER, TOKEN, FakeTelegram, fake_telegram
from tests.daemon.test_telegram_live import blocking, get, prompt_for
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from tests.support.local_node import LocalNode, running_local_node

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_local_node(tmp_path / "local-node.db") as running:
        yield running


def config(postgres_url: str, node: LocalNode, telegram: FakeTelegram) -> dict[str, Any]:
    return {
        "storage": {"url": postgres_url},
        "solana": {"network": "local", "rpc_url": node.url},
        "security": FAST_SECURITY,
        # No telegram_chat_id: the chat is a channel because it is linked, which one
        # daemon's bot learns and every daemon must know (the link is in the database).
        "notifications": {"telegram_bot_token": TOKEN, "telegram_api_url": telegram.url},
    }


async def pollers(daemons: list[Daemon]) -> list[Daemon]:
    """The daemons whose bot polls now, once at least one does (bounded)."""
    with anyio.fail_after(60):
        while True:
            statuses = [await blocking(get, d, "/v1/telegram") for d in daemons]
            assert all(s["running"] for s in statuses), statuses
            polling = [d for d, s in zip(daemons, statuses, strict=True) if s["polling"]]
            if polling:
                return polling
            await anyio.sleep(0.05)


def held_send(daemon: Daemon, node: LocalNode) -> str:
    """A funded wallet whose policy puts 2 SOL in the APPROVAL tier, and such a send."""
    wallet = daemon.create_wallet("agent")
    node.airdrop(wallet["address"], 10 * SOL)
    policy = {"instantMax": str(SOL), "approvalTimeout": 3600}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    session = daemon.create_session(wallet["id"])
    with daemon.client() as http:
        response = http.post(
            "/v1/transactions/send",
            json={"to": str(Keypair().pubkey()), "amount": str(2 * SOL)},
            headers={"Authorization": f"Bearer {session['token']}"},
            timeout=60,
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_one_daemon_polls_the_other_takes_over_after_sigkill_and_a_tap_decides_once(
    tmp_path: Path, postgres_url: str, node: LocalNode
):
    async with fake_telegram() as telegram:
        daemons: list[Daemon] = []
        try:
            settings = config(postgres_url, node, telegram)
            for n in range(2):
                started = await blocking(
                    lambda n=n: start_daemon(tmp_path / f"d{n}", config=settings)
                )
                daemons.append(started)
            [leader] = await pollers(daemons)
            [standby] = [d for d in daemons if d is not leader]

            # Link through the standby: the code is in the shared database, the leader reads it.
            answer = await blocking(lambda: standby.api("POST", "/v1/telegram/link"))
            assert answer.status_code == 201, answer.text
            telegram.message(answer.json()["send"])
            await telegram.wait_for(lambda: any("Linked" in s.text for s in telegram.to()), 30)
            for _ in range(3):
                telegram.message("/status")
            await telegram.wait_for(
                lambda: sum("Kill switch" in s.text for s in telegram.to()) == 3, 30
            )
            assert await pollers(daemons) == [leader]
            assert telegram.conflicts == 0 and telegram.polls >= 2

            tx_id = await blocking(held_send, standby, node)
            prompt = await prompt_for(telegram, tx_id)

            # The leader dies without a word; the standby takes the role and the offset.
            await blocking(leader.kill)
            assert await pollers([standby]) == [standby]
            first = telegram.tap(prompt, "Approve")
            again = telegram.tap(prompt, "Approve")
            await telegram.wait_for(
                lambda: telegram.answer_to(first) and telegram.answer_to(again), 60
            )
            texts = sorted([telegram.answer_to(first)["text"], telegram.answer_to(again)["text"]])
            assert texts[0].startswith("Already decided: "), texts
            assert texts[1].startswith("Approved: "), texts
            approvals = (await blocking(get, standby, "/v1/audit?action=pending.approve"))["items"]
            assert [(e["transactionId"], e["actor"]) for e in approvals] == [
                (tx_id, f"owner:telegram:{OWNER}")
            ]
            with anyio.fail_after(30):
                while (await blocking(get, standby, "/v1/telegram"))[
                    "updateOffset"
                ] <= telegram.last_id:
                    await anyio.sleep(0.05)
            # Never two polls at once, the dead leader's included.
            assert telegram.conflicts == 0
            assert TOKEN not in standby.log
        finally:
            for daemon in daemons:
                daemon.kill()
                daemon.close()
