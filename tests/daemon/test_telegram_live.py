"""Issue 19 against a real `waiaas-daemon serve`: its bot long-polls a fake Telegram Bot API on
loopback; the owner links with the real `waiaas telegram link`, taps Approve, and a restart
with taps waiting at Telegram handles each once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import pytest

from tests.daemon.fake_telegram import OWNER, TOKEN, FakeTelegram, Sent, fake_telegram
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
T = TypeVar("T")


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Sync work (the daemon's HTTP, a subprocess) off the loop the fake Telegram serves on."""
    return await anyio.to_thread.run_sync(fn, *args)


def config(telegram: FakeTelegram) -> dict[str, Any]:
    return {
        "security": FAST_SECURITY,
        "notifications": {
            "telegram_bot_token": TOKEN,
            "telegram_chat_id": str(OWNER),
            "telegram_api_url": telegram.url,
        },
    }


def cli_link(daemon: Daemon) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
    env["WAIAAS_MASTER_PASSWORD"] = daemon.password
    where = ["--base-url", daemon.base_url, "--data-dir", str(daemon.data_dir)]
    return subprocess.Popen(
        [sys.executable, "-m", "waiaas_cli", "telegram", "link", "--wait", "60", *where],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def cli_run(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
    env["WAIAAS_MASTER_PASSWORD"] = daemon.password
    where = ["--base-url", daemon.base_url, "--data-dir", str(daemon.data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "waiaas_cli", "telegram", *args, *where],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def read_until_code(process: subprocess.Popen[str]) -> tuple[str, list[str]]:
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.strip().startswith("/start "):
            return line.strip(), lines
    raise AssertionError("no code printed: " + "".join(lines) + process.stderr.read())  # type: ignore[union-attr]


def approval_send(daemon: Daemon) -> str:
    """A funded wallet whose policy puts 2 SOL in the APPROVAL tier, and such a send."""
    wallet = daemon.create_wallet("agent")
    bob = daemon.create_wallet("bob")
    for target in (wallet, bob):
        path = f"/v1/wallets/{target['id']}/airdrop"
        answer = daemon.api("POST", path, json={"amount": str(5 * SOL)})
        assert answer.status_code == 201, answer.text
    policy = {"instantMax": str(SOL), "approvalTimeout": 3600}
    assert daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
    session = daemon.create_session(wallet["id"])
    with daemon.client() as http:
        response = http.post(
            "/v1/transactions/send",
            json={"to": bob["address"], "amount": str(2 * SOL)},
            headers={"Authorization": f"Bearer {session['token']}"},
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def get(daemon: Daemon, path: str) -> Any:
    response = daemon.api("GET", path)
    assert response.status_code == 200, response.text
    return response.json()


async def prompt_for(telegram: FakeTelegram, tx_id: str) -> Sent:
    return await telegram.wait_for(
        lambda: next((s for s in telegram.to() if tx_id in s.text and s.reply_markup), None),
        timeout=30,
    )


async def confirmed(daemon: Daemon) -> list[dict[str, Any]]:
    with anyio.fail_after(20):
        while not (await blocking(get, daemon, "/v1/audit?action=send.confirmed"))["items"]:
            await anyio.sleep(0.05)
        items = (await blocking(get, daemon, "/v1/audit?action=send.confirmed"))["items"]
    return items


async def test_link_tap_approve_and_a_restart_with_taps_waiting(tmp_path: Path):
    async with fake_telegram() as telegram:
        data = tmp_path / "data"
        daemon = await blocking(lambda: start_daemon(data, config=config(telegram)))
        try:
            # The owner links from the CLI; it waits until the bot has the code.
            cli = cli_link(daemon)
            send_text, _ = await blocking(read_until_code, cli)
            telegram.message(send_text)
            out, err = await blocking(lambda: cli.communicate(timeout=60))
            assert cli.returncode == 0, err
            assert f"Linked: chat {OWNER}" in out

            tx_id = await blocking(approval_send, daemon)
            prompt = await prompt_for(telegram, tx_id)
            assert set(prompt.buttons()) == {"Approve", "Reject"}
            callback = telegram.tap(prompt, "Approve")
            answer = await telegram.wait_for(lambda: telegram.answer_to(callback), timeout=30)
            assert answer["text"] == "Approved: CONFIRMED"
            assert "Approved by owner:telegram:" in prompt.edits[-1]
            await confirmed(daemon)
            record = await blocking(get, daemon, "/v1/audit?action=pending.approve")
            [entry] = record["items"]
            assert (entry["actor"], entry["transactionId"]) == (f"owner:telegram:{OWNER}", tx_id)

            # A second waiting send; the daemon stops, and the owner taps while it is down.
            second = await blocking(approval_send_again, daemon)
            prompt2 = await prompt_for(telegram, second)
            await blocking(daemon.stop)
            daemon.close()
            first_tap = telegram.tap(prompt2, "Reject")
            replay = telegram.tap(prompt2, "Reject")
            daemon = await blocking(lambda: start_daemon(data, config=config(telegram)))
            answer = await telegram.wait_for(lambda: telegram.answer_to(replay), timeout=30)
            assert telegram.answer_to(first_tap)["text"] == "Rejected: REJECTED"
            assert answer["text"] == "Already decided: REJECTED"
            rejected = (await blocking(get, daemon, "/v1/audit?action=pending.reject"))["items"]
            assert [e["transactionId"] for e in rejected] == [second]
            with anyio.fail_after(20):
                while (await blocking(get, daemon, "/v1/telegram"))[
                    "updateOffset"
                ] <= telegram.last_id:
                    await anyio.sleep(0.05)
            status = await blocking(get, daemon, "/v1/telegram")
            assert status["running"] is True and status["updateOffset"] == telegram.last_id + 1
            assert TOKEN not in daemon.log and TOKEN not in str(status)

            # The owner's view from the CLI, then the end of the binding.
            shown = await blocking(cli_run, daemon, "status")
            assert shown.returncode == 0, shown.stderr
            assert f"Owner chat: {OWNER} (owner)" in shown.stdout and "running" in shown.stdout
            gone = await blocking(cli_run, daemon, "unlink")
            assert gone.returncode == 0 and "Unlinked" in gone.stdout
            assert (await blocking(get, daemon, "/v1/telegram"))["ownerChat"] is None
        finally:
            daemon.kill()
            daemon.close()


def approval_send_again(daemon: Daemon) -> str:
    """Another APPROVAL-tier send from the same wallet."""
    wallets = get(daemon, "/v1/wallets")["items"]
    agent = next(w for w in wallets if w["name"] == "agent")
    bob = next(w for w in wallets if w["name"] == "bob")
    session = daemon.create_session(agent["id"])
    with daemon.client() as http:
        response = http.post(
            "/v1/transactions/send",
            json={"to": bob["address"], "amount": str(2 * SOL)},
            headers={"Authorization": f"Bearer {session['token']}"},
        )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])
