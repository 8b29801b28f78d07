"""Races against a real daemon: a stop that answered 200 stops every unsigned send,
parallel sends never pass a limit, and of two decisions on one send exactly one wins."""

from __future__ import annotations

import sqlite3

import anyio
import httpx
import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
# More than the 30, so the stop (its masterAuth check included) lands mid-burst
# even on a fast machine.
PARALLEL = 60


def _airdrop(daemon: Daemon, wallet_id: str, lamports: int) -> None:
    response = daemon.api(
        "POST", f"/v1/wallets/{wallet_id}/airdrop", json={"amount": str(lamports)}
    )
    assert response.status_code == 201, response.text


def _setup(daemon: Daemon, policy: dict | None = None, lamports: int = 100 * SOL):
    wallet = daemon.create_wallet("alice")
    bob = daemon.create_wallet("bob")
    _airdrop(daemon, wallet["id"], lamports)
    _airdrop(daemon, bob["id"], SOL)
    if policy is not None:
        response = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy)
        assert response.status_code == 200, response.text
    session = daemon.create_session(wallet["id"], expiresIn=3600)
    return wallet, session, bob["address"]


def _signed(daemon: Daemon, wallet_id: str) -> int:
    """Transfers of the wallet that carry a signature, read from the database itself."""
    with sqlite3.connect(daemon.data_dir / "waiaas.db") as db:
        (count,) = db.execute(
            "SELECT COUNT(*) FROM transactions WHERE wallet_id = ? AND type = 'TRANSFER' "
            "AND signature IS NOT NULL",
            (wallet_id,),
        ).fetchone()
    return count


def _agent(daemon: Daemon, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def _owner(daemon: Daemon) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=daemon.base_url, headers=daemon.master, timeout=30)


STOPS = {
    "revoke": ("DELETE", "/v1/sessions/{session}", 401, "SESSION_REVOKED"),
    "terminate": ("DELETE", "/v1/wallets/{wallet}", 403, "WALLET_TERMINATED"),
    "suspend": ("POST", "/v1/wallets/{wallet}/suspend", 403, "WALLET_SUSPENDED"),
    "kill switch": ("POST", "/v1/admin/kill-switch", 403, "KILL_SWITCH_ACTIVE"),
}


@pytest.mark.parametrize("stop", list(STOPS))
async def test_no_transfer_is_signed_after_a_stop_answered(daemon, stop):
    wallet, session, bob = _setup(daemon)
    method, path, _, _ = STOPS[stop]
    path = path.format(session=session["id"], wallet=wallet["id"])
    answers: list[httpx.Response] = []
    signed_at_stop: list[int] = []
    async with _agent(daemon, session["token"]) as agent, _owner(daemon) as owner:
        some_answered = anyio.Event()

        async def one() -> None:
            answers.append(
                await agent.post("/v1/transactions/send", json={"to": bob, "amount": "1000"})
            )
            if len(answers) >= 3:
                some_answered.set()

        async def stop_it() -> None:
            # Mid-burst, whatever the machine's speed: a few sends done, most waiting.
            with anyio.fail_after(20):
                await some_answered.wait()
            response = await owner.request(method, path)
            assert response.status_code == 200, response.text
            signed_at_stop.append(_signed(daemon, wallet["id"]))

        async with anyio.create_task_group() as group:
            for _ in range(PARALLEL):
                group.start_soon(one)
            group.start_soon(stop_it)
    assert len(answers) == PARALLEL
    assert _signed(daemon, wallet["id"]) == signed_at_stop[0]
    stopped = [r for r in answers if r.status_code != 201]
    assert stopped, "every send finished before the stop: the race was not exercised"
    assert all(r.status_code in (401, 403) for r in stopped), [r.text for r in stopped]


async def test_twenty_parallel_sends_never_pass_the_daily_limit(daemon):
    _wallet, session, bob = _setup(daemon, {"dailyLimit": str(5 * SOL)})
    async with _agent(daemon, session["token"]) as agent:
        answers: list[httpx.Response] = []

        async def one() -> None:
            answers.append(
                await agent.post("/v1/transactions/send", json={"to": bob, "amount": str(SOL)})
            )

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(one)
        limits = (await agent.get("/v1/wallet/policy")).json()["remaining"]
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 5 + [202] * 15
    assert {r.json()["status"] for r in answers if r.status_code == 202} == {"PENDING_APPROVAL"}
    # Pending ones count too: nothing is left for the day.
    assert limits["daily"] == "0"


async def test_approve_and_reject_at_once_one_wins_the_other_conflicts(daemon):
    _wallet, session, bob = _setup(daemon, {"instantMax": "1"})
    async with _agent(daemon, session["token"]) as agent, _owner(daemon) as owner:
        ids = []
        for _ in range(5):
            sent = await agent.post("/v1/transactions/send", json={"to": bob, "amount": "1000"})
            assert sent.status_code == 202, sent.text
            ids.append(sent.json()["id"])
        for tx_id in ids:
            answers: dict[str, httpx.Response] = {}

            async def decide(action: str, tx_id: str = tx_id, answers: dict = answers) -> None:
                answers[action] = await owner.post(f"/v1/pending/{tx_id}/{action}")

            async with anyio.create_task_group() as group:
                group.start_soon(decide, "approve")
                group.start_soon(decide, "reject")
            codes = sorted(r.status_code for r in answers.values())
            assert codes == [200, 409], [r.text for r in answers.values()]
            loser = next(r for r in answers.values() if r.status_code == 409)
            assert loser.json()["code"] == "TRANSACTION_NOT_PENDING"
            final = (await agent.get(f"/v1/transactions/{tx_id}")).json()["status"]
            winner = "approve" if answers["approve"].status_code == 200 else "reject"
            assert final == ("CONFIRMED" if winner == "approve" else "REJECTED")


async def test_a_queued_send_is_run_by_the_daemons_scheduler(daemon):
    _wallet, session, bob = _setup(
        daemon, {"instantMax": "1", "delayMax": str(SOL), "delaySeconds": 0}
    )
    async with _agent(daemon, session["token"]) as agent:
        sent = await agent.post("/v1/transactions/send", json={"to": bob, "amount": "1000"})
        assert (sent.status_code, sent.json()["status"]) == (202, "QUEUED")
        with anyio.fail_after(10):
            while (await agent.get(f"/v1/transactions/{sent.json()['id']}")).json()[
                "status"
            ] != "CONFIRMED":
                await anyio.sleep(0.02)


async def test_cancel_and_approve_at_once_one_wins(daemon):
    _wallet, session, bob = _setup(daemon, {"instantMax": "1"})
    async with _agent(daemon, session["token"]) as agent, _owner(daemon) as owner:
        sent = await agent.post("/v1/transactions/send", json={"to": bob, "amount": "1000"})
        tx_id = sent.json()["id"]
        answers: list[httpx.Response] = []

        async def approve() -> None:
            answers.append(await owner.post(f"/v1/pending/{tx_id}/approve"))

        async def cancel() -> None:
            answers.append(await agent.post(f"/v1/transactions/{tx_id}/cancel"))

        async with anyio.create_task_group() as group:
            group.start_soon(approve)
            group.start_soon(cancel)
    assert sorted(r.status_code for r in answers) == [200, 409]
