"""SIGKILL of the daemon while sessions renew, MCP tokens are provisioned and sends run.

Each round starts the daemon on the same data dir, lets clients renew (as the
MCP server does: the new token goes to a token file, written atomically),
provision MCP tokens and send, and kills the daemon at a random moment just as
a renewal goes out. The database and the files are then checked with the
daemon dead, and the tokens again through the next daemon.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from tests.support.daemon import PASSWORD, Daemon, start_daemon
from waiaas_core.atomic import read_secret_file, write_secret_file
from waiaas_core.tokens import decode_unverified

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SOL = 1_000_000_000
ROUNDS = 3
WALLETS = 4
SESSIONS_PER_WALLET = 5
TTL = 4  # renewable after 2 s; the newest token outlives a restart of the daemon
MASTER = {"X-Master-Password": PASSWORD}
CONFIG = {
    "security": {
        "min_session_ttl": 1,
        "session_ttl": 3600,
        # No grace: every token but the current one is refused at once, so
        # "two current tokens" shows up as two tokens that both work.
        "renewal_grace": 0,
        "max_sessions_per_wallet": 100,
    }
}


@dataclass
class Renewing:
    id: str
    wallet_id: str
    tokens: list[str]
    file: Path
    in_flight: bool = False  # a renewal went out and its answer never came back
    lost: bool = False  # ...and the daemon had committed it: the session cannot renew


@dataclass
class Round:
    sessions: list[Renewing]
    threshold: int
    kill: anyio.Event = field(default_factory=anyio.Event)
    started: int = 0
    renewed: int = 0
    sends: list[str] = field(default_factory=list)
    provisions: int = 0
    provision_in_flight: bool = False
    interrupted: int = 0
    lost_answers: int = 0


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def renew_until_killed(
    http: httpx.AsyncClient, session: Renewing, run: Round, offset: float
) -> None:
    await anyio.sleep(offset)  # spread the renewals, so that some finish before the kill
    while True:
        claims = decode_unverified(session.tokens[-1])
        await anyio.sleep(max(0.0, claims["iat"] + TTL / 2 - time.time()) + 0.01)
        session.in_flight = True
        run.started += 1
        if run.started == run.threshold:
            run.kill.set()  # the daemon dies while this renewal is on its way
        response = await http.put(
            f"/v1/sessions/{session.id}/renew", headers=bearer(session.tokens[-1])
        )
        session.in_flight = False
        code = response.json().get("code")
        if code == "RENEWAL_TOO_EARLY":
            continue
        if code == "SESSION_EXPIRED":
            # A busy daemon (one fsync per commit) answered too late; the session ends.
            assert claims["exp"] <= time.time(), response.text
            return
        assert response.status_code == 200, response.text
        token = response.json()["token"]
        # As waiaas-mcp does: the file first, then the token in use.
        write_secret_file(session.file, token + "\n")
        session.tokens.append(token)
        run.renewed += 1


async def provision_until_killed(http: httpx.AsyncClient, wallet_id: str, run: Round) -> None:
    while True:
        run.provision_in_flight = True
        response = await http.post(
            "/v1/mcp/tokens", json={"walletId": wallet_id, "expiresIn": 3600}, headers=MASTER
        )
        run.provision_in_flight = False
        assert response.status_code == 201, response.text
        run.provisions += 1
        await anyio.sleep(0.02)


async def send_until_killed(
    http: httpx.AsyncClient, token: str, to: str, amount: int, run: Round
) -> None:
    while True:
        response = await http.post(
            "/v1/transactions/send", json={"to": to, "amount": str(amount)}, headers=bearer(token)
        )
        assert response.status_code == 201, response.text
        run.sends.append(response.json()["id"])
        await anyio.sleep(0.01)


async def run_until_killed(daemon: Daemon, run: Round, tasks: list[Any], seed: random.Random):
    async with (
        httpx.AsyncClient(base_url=daemon.base_url, timeout=5) as http,
        anyio.create_task_group() as tg,
    ):
        for fn, *args in tasks:
            tg.start_soon(fn, http, *args, run)
        with anyio.fail_after(15):
            while not (run.provisions and run.sends):  # one of each made it through
                await anyio.sleep(0.01)
            for session in run.sessions:
                tg.start_soon(renew_until_killed, http, session, run, seed.uniform(0, 0.3))
            await run.kill.wait()
        # Before the request is written, while it is handled, after its commit...
        await anyio.sleep(seed.uniform(0, 0.004))
        daemon.kill()
        # No await between the kill and the cancel: an answer counts only if read.
        tg.cancel_scope.cancel()
    run.interrupted = sum(session.in_flight for session in run.sessions)


def check_database_after_kill(data: Path, run: Round, mcp_wallet: str) -> None:
    with contextlib.closing(sqlite3.connect(data / "waiaas.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for session in run.sessions:
            current, previous, count = db.execute(
                "SELECT token_hash, prev_token_hash, renewal_count FROM sessions WHERE id = ?",
                (session.id,),
            ).fetchone()
            received = [sha(token) for token in session.tokens]
            if current != received[-1]:
                # Only one way the current token may be one the client never saw: the
                # daemon renewed its newest token and died before the answer arrived.
                assert session.in_flight, "an answered renewal was lost or undone"
                assert previous == received[-1] and current not in received
                run.lost_answers += 1
                session.lost = True
            assert count == len(received) - 1 + (current != received[-1])
            # The client's file is whole and holds its newest token.
            assert read_secret_file(session.file) == session.tokens[-1]

        token = read_secret_file(data / "mcp-tokens" / mcp_wallet)
        assert token is not None and token.startswith("wai_sess_")
        claims = decode_unverified(token)  # a torn file would not decode
        assert claims["wlt"] == mcp_wallet
        rows = db.execute(
            "SELECT id, token_hash FROM sessions WHERE wallet_id = ? AND label = 'mcp' "
            "AND revoked_at IS NULL",
            (mcp_wallet,),
        ).fetchall()
        assert len(rows) == 1, "provisioning must leave exactly one active mcp session"
        [hashed] = db.execute(
            "SELECT token_hash FROM sessions WHERE id = ?", (claims["sub"],)
        ).fetchone()
        assert hashed == sha(token), "the token file is not the token the daemon issued"
        if rows[0][0] != claims["sub"]:
            # Committed, then killed before the file was written: the caller got no answer.
            assert run.provision_in_flight


def unsettled(data: Path) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(data / "waiaas.db")) as db:
        return db.execute(
            "SELECT id, status FROM transactions WHERE status IN ('PENDING', 'SUBMITTED')"
        ).fetchall()


def recorded(data: Path, ids: list[str]) -> set[str]:
    with contextlib.closing(sqlite3.connect(data / "waiaas.db")) as db:
        return {row[0] for row in db.execute("SELECT id FROM transactions")} & set(ids)


async def check_tokens_through_daemon(daemon: Daemon, run: Round) -> int:
    """At most one token of each session works; the newest one does while unexpired."""
    checked = 0
    async with httpx.AsyncClient(base_url=daemon.base_url, timeout=5) as http:
        for session in run.sessions:
            newest_alive = decode_unverified(session.tokens[-1])["exp"] > time.time() + 0.3
            working = []
            for token in session.tokens:
                response = await http.get("/v1/wallet/address", headers=bearer(token))
                if response.status_code == 200:
                    working.append(token)
                else:
                    assert response.status_code == 401, response.text
                    assert response.json()["code"] in ("INVALID_TOKEN", "SESSION_EXPIRED")
            assert len(working) <= 1, "two tokens of one session are current"
            lost = sha(session.tokens[-1]) != current_hash(daemon.data_dir, session.id)
            if lost:
                assert working == []
            elif newest_alive:
                assert working == [session.tokens[-1]]
                checked += 1
    return checked


def current_hash(data: Path, session_id: str) -> str:
    with contextlib.closing(sqlite3.connect(data / "waiaas.db")) as db:
        return db.execute("SELECT token_hash FROM sessions WHERE id = ?", (session_id,)).fetchone()[
            0
        ]


async def test_sigkill_during_renewals_sends_and_provisioning_keeps_tokens_and_records(tmp_path):
    data = tmp_path / "data"
    seed = random.Random(11)
    files = tmp_path / "client-tokens"
    files.mkdir()
    first = start_daemon(data, config=CONFIG)
    try:
        wallets = [first.create_wallet(f"agent-{n}") for n in range(WALLETS)]
        mcp_wallet = first.create_wallet("mcp")["id"]
        sender, shop = first.create_wallet("sender"), first.create_wallet("shop")
        for wallet, lamports in ((sender, 100 * SOL), (shop, SOL)):
            response = first.api(
                "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(lamports)}
            )
            assert response.status_code == 201, response.text
        send_token = first.create_session(sender["id"], expiresIn=3600)["token"]
    finally:
        first.stop()
        first.close()

    runs: list[Round] = []
    sessions: list[Renewing] = []
    checked = 0
    for number in range(ROUNDS + 1):
        daemon = start_daemon(data)
        try:
            assert unsettled(data) == [], "the daemon started without settling every send"
            if runs:
                checked += await check_tokens_through_daemon(daemon, runs[-1])
            if number == ROUNDS:
                assert daemon.stop() == 0
                break
            # Sessions whose newest token survived the restart go on renewing with it.
            soon = time.time() + 1
            sessions = [
                s for s in sessions if not s.lost and decode_unverified(s.tokens[-1])["exp"] > soon
            ]
            for wallet in wallets:
                while sum(s.wallet_id == wallet["id"] for s in sessions) < SESSIONS_PER_WALLET:
                    created = daemon.create_session(wallet["id"], expiresIn=TTL)
                    file = files / created["id"]
                    write_secret_file(file, created["token"] + "\n")
                    sessions.append(Renewing(created["id"], wallet["id"], [created["token"]], file))
            run = Round(sessions, threshold=seed.randrange(1, len(sessions) + 1))
            tasks: list[Any] = [
                (provision_until_killed, mcp_wallet),
                (send_until_killed, send_token, shop["address"], 1000 + number),
            ]
            await run_until_killed(daemon, run, tasks, seed)
        finally:
            daemon.kill()
            daemon.close()
            print(daemon.log)  # shown only when the test fails

        assert run.started >= run.threshold and run.provisions > 0 and run.sends
        check_database_after_kill(data, run, mcp_wallet)
        assert recorded(data, run.sends) == set(run.sends), "an accepted send is not recorded"
        runs.append(run)

    interrupted = sum(run.interrupted for run in runs)
    carried = len({s.id for s in runs[0].sessions} & {s.id for s in runs[-1].sessions})
    assert interrupted >= ROUNDS, "the kills did not catch renewals in flight"
    assert checked > 0, "no newest token was still alive to check after a restart"
    print(  # shown with -s: how often the worst moment was hit
        f"renewals {sum(r.renewed for r in runs)}, interrupted {interrupted}, "
        f"answers lost {sum(r.lost_answers for r in runs)}, live tokens checked {checked}, "
        f"sessions renewed across every restart {carried}"
    )


# -- MCP token files under SIGKILL during renewals (issue 10) ------------------

MCP_ROUNDS = 16
MCP_WALLETS = 6
MCP_TTL = 8  # renewable after 4 s; most tokens outlive a restart (2-10 s on a busy box)
MCP_CONFIG = {
    "security": {
        "min_session_ttl": 1,
        "session_ttl": 3600,
        "renewal_grace": 0,  # only the current token works: a stale file shows at once
        "max_renewals": 1000,
    }
}


def _file_state(paths: list[Path]) -> list[tuple[int, int] | None]:
    states: list[tuple[int, int] | None] = []
    for path in paths:
        try:
            info = path.stat()
        except FileNotFoundError:
            states.append(None)
        else:
            states.append((info.st_ino, info.st_mtime_ns))
    return states


def _renew_from_file(daemon: Daemon, path: Path, stop: threading.Event, sent: threading.Event):
    """As waiaas-mcp after a 409: the token comes from the file, renewed when half-way."""
    token = read_secret_file(path) or ""
    with daemon.client() as http:
        while not stop.is_set():
            claims = decode_unverified(token)
            if stop.wait(max(0.0, claims["iat"] + MCP_TTL / 2 - time.time()) + 0.01):
                return
            sent.set()
            try:
                response = http.put(f"/v1/sessions/{claims['sub']}/renew", headers=bearer(token))
            except httpx.TransportError:
                return  # the daemon is gone
            code = response.json().get("code")
            if code == "SESSION_EXPIRED":
                return  # a slow restart outlasted the token; the next round provisions anew
            if code == "RENEWAL_TOO_EARLY":
                continue
            assert response.status_code == 200, response.text
            token = response.json()["token"]


def _changed(before: list[tuple[int, int] | None], paths: list[Path]) -> int:
    return sum(a != b for a, b in zip(before, _file_state(paths), strict=True))


def _kill_during_renewals(daemon: Daemon, paths: list[Path], changes: int, delay: float):
    """Kill the daemon the moment ``changes`` token files changed (0: ``delay`` after a
    renewal went out)."""
    stop, sent = threading.Event(), threading.Event()
    renewers = [
        threading.Thread(target=_renew_from_file, args=(daemon, path, stop, sent), daemon=True)
        for path in paths
    ]
    for renewer in renewers:
        renewer.start()
    try:
        before = _file_state(paths)
        deadline = time.monotonic() + MCP_TTL + 5
        if changes:
            while _changed(before, paths) < changes and time.monotonic() < deadline:
                time.sleep(0.0002)
        else:
            assert sent.wait(MCP_TTL + 5), "no renewal went out"
            time.sleep(delay)
        daemon.kill()
    finally:
        stop.set()
        for renewer in renewers:
            renewer.join(10)


def _committed_hash(data: Path, session_id: str) -> str | None:
    with contextlib.closing(sqlite3.connect(data / "waiaas.db")) as db:
        row = db.execute(
            "SELECT token_hash FROM sessions WHERE id = ? AND revoked_at IS NULL", (session_id,)
        ).fetchone()
    return None if row is None else row[0]


def _provision(daemon: Daemon, wallet_id: str) -> None:
    response = daemon.api(
        "POST", "/v1/mcp/tokens", json={"walletId": wallet_id, "expiresIn": MCP_TTL}
    )
    assert response.status_code == 201, response.text


def test_sigkill_during_mcp_renewals_leaves_a_committed_token_in_every_token_file(tmp_path):
    data = tmp_path / "data"
    seed = random.Random(10)
    first = start_daemon(data, config=MCP_CONFIG)
    try:
        wallet_ids = [first.create_wallet(f"mcp-{n}")["id"] for n in range(MCP_WALLETS)]
        for wallet_id in wallet_ids:
            _provision(first, wallet_id)
    finally:
        first.stop()
        first.close()
    paths = [data / "mcp-tokens" / wallet_id for wallet_id in wallet_ids]

    authenticated = 0
    for number in range(MCP_ROUNDS + 1):
        daemon = start_daemon(data)
        try:
            with daemon.client() as http:
                for wallet_id, path in zip(wallet_ids, paths, strict=True):
                    token = read_secret_file(path)
                    assert token is not None, "a token file is gone"
                    claims = decode_unverified(token)
                    assert _committed_hash(data, claims["sub"]) == sha(token), (
                        f"round {number}: the token file of {wallet_id} holds a token "
                        "the database never committed"
                    )
                    if claims["exp"] > time.time() + 0.2:
                        response = http.get("/v1/wallet/address", headers=bearer(token))
                        assert response.status_code == 200, response.text
                        authenticated += 1
                    if claims["exp"] < time.time() + 0.5:
                        _provision(daemon, wallet_id)  # expired while the daemon restarted
            if number == MCP_ROUNDS:
                assert daemon.stop() == 0
                break
            # Even rounds: right after a file changed, the worst moment for the old order.
            changes = seed.randint(1, MCP_WALLETS) if number % 2 == 0 else 0
            _kill_during_renewals(daemon, paths, changes, seed.uniform(0, 0.2))
        finally:
            daemon.kill()
            daemon.close()
            print(daemon.log)  # shown only when the test fails
    # A token that expired during a slow restart is checked against the database only;
    # the real request ran too, on one token a round at the least.
    assert authenticated >= MCP_ROUNDS
