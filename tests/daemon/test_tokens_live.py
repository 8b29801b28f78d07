"""SPL tokens (SPEC 14) against a real `waiaas-daemon serve`: registry, assets, airdrops, sends."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import FAST_SECURITY, running_daemon
from waiaas_daemon.chain.base import TOKEN_2022_PROGRAM
from waiaas_daemon.chain.local import LocalChain

SOL = 1_000_000_000
FEE = 5000
# Rent-exempt minimum of a new SPL Token account (165 bytes) and a Token-2022 one (170).
ATA_RENT = 2_039_280
USDC = 10**6


def _agent(daemon, wallet_id, **body):
    token = daemon.create_session(wallet_id, **body)["token"]
    return httpx.Client(
        base_url=daemon.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def _airdrop(daemon, wallet_id, amount, token=None):
    body = {"amount": str(amount), **({"token": token} if token else {})}
    response = daemon.api("POST", f"/v1/wallets/{wallet_id}/airdrop", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "CONFIRMED", response.text
    return response.json()


def _assets(agent):
    response = agent.get("/v1/wallet/assets")
    assert response.status_code == 200, response.text
    return response.json()


def _held(agent, symbol_or_mint):
    for item in _assets(agent)["items"]:
        if symbol_or_mint in (item["symbol"], item["mint"]):
            return int(item["amount"])
    return 0


def _sol(agent):
    return int(_assets(agent)["items"][0]["amount"])


def _send(agent, to, amount, token=None, **extra):
    body = {"to": to, "amount": str(amount), **({"token": token} if token else {}), **extra}
    return agent.post("/v1/transactions/send", json=body)


def _usdc_mint(daemon):
    items = daemon.api("GET", "/v1/tokens", params={"network": "local"}).json()["items"]
    return next(t["mint"] for t in items if t["symbol"] == "USDC")


def test_the_registry_lists_the_built_in_tokens_and_the_local_test_mint(daemon):
    with httpx.Client(base_url=daemon.base_url, timeout=10) as public:
        mainnet = public.get("/v1/tokens", params={"network": "mainnet"}).json()
        devnet = public.get("/v1/tokens", params={"network": "devnet"}).json()
        local = public.get("/v1/tokens").json()
    assert {(t["symbol"], t["mint"]) for t in mainnet["items"]} == {
        ("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        ("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"),
    }
    assert [(t["symbol"], t["mint"]) for t in devnet["items"]] == [
        ("USDC", "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU")
    ]
    assert local["network"] == "local"
    [usdc] = local["items"]
    assert (usdc["symbol"], usdc["decimals"], usdc["builtin"]) == ("USDC", 6, True)


def test_the_owner_adds_a_token_whose_decimals_are_read_from_the_mint(tmp_path):
    data = tmp_path / "data"
    with running_daemon(data, config={"security": FAST_SECURITY}) as first:
        wallet = first.create_wallet()
    mint = _seed_mint(data, wallet["address"], decimals=3, amount=0)
    with running_daemon(data) as daemon:
        body = {"network": "local", "mint": mint, "symbol": "GOLD"}
        assert daemon.api("POST", "/v1/tokens", json=body).status_code == 201
        listed = daemon.api("GET", "/v1/tokens").json()["items"]
        assert {"symbol": "GOLD", "mint": mint, "decimals": 3} == {
            k: v
            for k, v in next(t for t in listed if t["symbol"] == "GOLD").items()
            if k in ("symbol", "mint", "decimals")
        }
        again = daemon.api("POST", "/v1/tokens", json={**body, "symbol": "gold2"})
        assert again.status_code == 400 and "already" in again.json()["message"]
        wrong = daemon.api("POST", "/v1/tokens", json={**body, "symbol": "G2", "decimals": 6})
        assert wrong.status_code == 400 and "decimals" in wrong.json()["message"]
        nothing = {"network": "local", "mint": wallet["address"], "symbol": "NONE"}
        assert daemon.api("POST", "/v1/tokens", json=nothing).json()["code"] == "TOKEN_NOT_FOUND"
        with httpx.Client(base_url=daemon.base_url, timeout=10) as anonymous:
            assert anonymous.post("/v1/tokens", json=body).status_code == 401


def test_a_usdc_transfer_creates_the_recipients_account_and_balances_are_exact(daemon):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    _airdrop(daemon, alice["id"], SOL)
    airdrop = _airdrop(daemon, alice["id"], 100 * USDC, token="USDC")
    mint = _usdc_mint(daemon)
    assert airdrop["token"] == {"mint": mint, "symbol": "USDC", "decimals": 6}
    with _agent(daemon, alice["id"]) as a, _agent(daemon, bob["id"]) as b:
        assets = _assets(a)
        assert assets["items"][0] == {
            "symbol": "SOL",
            "mint": None,
            "amount": str(SOL),
            "decimals": 9,
            "tokenProgram": None,
        }
        assert assets["items"][1]["symbol"] == "USDC"
        assert int(assets["items"][1]["amount"]) == 100 * USDC
        assert _held(b, "USDC") == 0

        first = _send(a, bob["address"], 25 * USDC, token="USDC", memo="invoice 1")
        assert first.status_code == 201, first.text
        record = a.get(f"/v1/transactions/{first.json()['id']}").json()
        assert record["status"] == "CONFIRMED", record
        assert record["token"] == {"mint": mint, "symbol": "USDC", "decimals": 6}
        # The recipient reads its new account with its own session.
        assert _held(b, "USDC") == 25 * USDC
        assert _held(a, "USDC") == 75 * USDC
        assert _sol(a) == SOL - FEE - ATA_RENT
        assert _sol(b) == 0

        # By mint address this time; the account exists, so only the fee is paid.
        second = _send(a, bob["address"], 5 * USDC, token=mint)
        assert second.status_code == 201, second.text
        assert _held(b, "USDC") == 30 * USDC
        assert _sol(a) == SOL - 2 * FEE - ATA_RENT
        [b_usdc] = [i for i in _assets(b)["items"] if i["mint"] == mint]
        assert b_usdc["tokenProgram"] == "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"


def test_unknown_tokens_and_shortfalls_are_refused_before_signing(daemon):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    _airdrop(daemon, alice["id"], 10 * USDC, token="usdc")  # symbols match in any case
    with _agent(daemon, alice["id"]) as a:
        unknown = _send(a, bob["address"], 1, token="NOPE")
        assert (unknown.status_code, unknown.json()["code"]) == (404, "TOKEN_NOT_FOUND")
        not_a_mint = _send(a, bob["address"], 1, token=bob["address"])
        assert not_a_mint.json()["code"] == "TOKEN_NOT_FOUND"
        # Tokens but no SOL for the fee and the recipient's new account.
        no_sol = _send(a, bob["address"], USDC, token="USDC")
        assert (no_sol.status_code, no_sol.json()["code"]) == (400, "INSUFFICIENT_BALANCE")
        assert "SOL" in no_sol.json()["message"] and str(FEE + ATA_RENT) in no_sol.json()["message"]
        _airdrop(daemon, alice["id"], SOL)
        too_many = _send(a, bob["address"], 11 * USDC, token="USDC")
        assert too_many.json()["code"] == "INSUFFICIENT_BALANCE"
        assert "USDC balance is 10000000" in too_many.json()["message"]
        # Nothing was recorded, nothing charged.
        assert a.get("/v1/transactions").json()["items"][0]["type"] == "AIRDROP"
        assert _sol(a) == SOL and _held(a, "USDC") == 10 * USDC


def test_token_airdrops_are_refused_where_the_chain_is_not_local(daemon):
    wallet = daemon.create_wallet()
    devnet = daemon.api("POST", "/v1/wallets", json={"name": "d", "network": "devnet"}).json()
    response = daemon.api(
        "POST", f"/v1/wallets/{devnet['id']}/airdrop", json={"amount": "1", "token": "USDC"}
    )
    assert response.status_code == 400 and response.json()["code"] == "INVALID_REQUEST"
    assert response.json()["message"].startswith("token: ")
    unknown = daemon.api(
        "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1", "token": "XYZ"}
    )
    assert unknown.json()["code"] == "TOKEN_NOT_FOUND"


def _seed_mint(data: Path, owner: str, *, decimals: int, amount: int, **mint_kwargs) -> str:
    """A mint made outside the daemon, written into its stopped ledger (owner's ATA funded)."""
    chain = LocalChain()

    async def make() -> tuple[str, list]:
        created = await chain.create_mint(decimals, **mint_kwargs)
        assert created.outcome.status == "CONFIRMED", created.outcome.error
        snaps = list(created.outcome.accounts)
        if amount:
            outcome = await chain.mint_to(owner, created.mint, amount)
            assert outcome.status == "CONFIRMED", outcome.error
            snaps += outcome.accounts
        return created.mint, snaps

    mint, snaps = asyncio.run(make())
    with sqlite3.connect(data / "waiaas.db") as db:
        db.executemany(
            "INSERT OR REPLACE INTO ledger_accounts VALUES (?, ?, ?, ?, ?, ?)",
            [
                (s.address, s.lamports, s.data, s.owner, int(s.executable), s.rent_epoch)
                for s in snaps
            ],
        )
    return mint


def test_token_2022_transfers_and_a_transfer_fee_mint_is_refused(tmp_path):
    data = tmp_path / "data"
    with running_daemon(data, config={"security": FAST_SECURITY}) as first:
        alice, bob = first.create_wallet("alice"), first.create_wallet("bob")
        _airdrop(first, alice["id"], SOL)
    plain = _seed_mint(data, alice["address"], decimals=2, amount=500, program=TOKEN_2022_PROGRAM)
    fee = _seed_mint(
        data,
        alice["address"],
        decimals=2,
        amount=500,
        program=TOKEN_2022_PROGRAM,
        transfer_fee=(100, 10),
    )
    with (
        running_daemon(data) as daemon,
        _agent(daemon, alice["id"]) as a,
        _agent(daemon, bob["id"]) as b,
    ):
        sent = _send(a, bob["address"], 120, token=plain)
        assert sent.status_code == 201, sent.text
        assert a.get(f"/v1/transactions/{sent.json()['id']}").json()["token"] == {
            "mint": plain,
            "symbol": None,
            "decimals": 2,
        }
        [item] = [i for i in _assets(b)["items"] if i["mint"] == plain]
        assert (item["amount"], item["symbol"], item["tokenProgram"]) == (
            "120",
            None,
            TOKEN_2022_PROGRAM,
        )
        lamports = _sol(a)
        refused = _send(a, bob["address"], 1, token=fee)
        assert (refused.status_code, refused.json()["code"]) == (400, "UNSUPPORTED_TOKEN")
        assert "TransferFeeConfig" in refused.json()["message"]
        assert _sol(a) == lamports and _held(a, fee) == 500


def test_token_limits_bind_their_own_token_only(daemon):
    alice, bob = daemon.create_wallet("alice"), daemon.create_wallet("bob")
    _airdrop(daemon, alice["id"], 10 * SOL)
    _airdrop(daemon, bob["id"], SOL)
    _airdrop(daemon, alice["id"], 1000 * USDC, token="USDC")
    mint = _usdc_mint(daemon)
    constraints = {
        # SOL caps far below the token amounts: they must not touch a token send.
        "maxAmountPerTx": "1000",
        "maxAmountPerDay": "5000",
        "tokens": {mint: {"maxAmountPerTx": str(10 * USDC), "maxAmountPerDay": str(15 * USDC)}},
    }
    with _agent(daemon, alice["id"], constraints=constraints) as a:
        assert _send(a, bob["address"], 10 * USDC, token="USDC").status_code == 201
        over_tx = _send(a, bob["address"], 10 * USDC + 1, token="USDC")
        assert over_tx.json()["code"] == "CONSTRAINT_VIOLATED"
        assert "maxAmountPerTx" in over_tx.json()["message"]
        over_day = _send(a, bob["address"], 6 * USDC, token="USDC")
        assert over_day.json()["code"] == "CONSTRAINT_VIOLATED"
        assert "maxAmountPerDay" in over_day.json()["message"]
        # The token's total does not count against SOL's day either.
        assert _send(a, bob["address"], 1000).status_code == 201
        assert _send(a, bob["address"], 1001).json()["code"] == "CONSTRAINT_VIOLATED"

    only_sol = {"allowedTokens": [bob["address"]]}  # some other mint
    with _agent(daemon, alice["id"], constraints=only_sol) as a:
        denied = _send(a, bob["address"], USDC, token="USDC")
        assert denied.json()["code"] == "CONSTRAINT_VIOLATED"
        assert "allowedTokens" in denied.json()["message"]
        assert _send(a, bob["address"], 1000).status_code == 201  # SOL is no mint

    policy = {
        "instantMax": "1",  # SOL: anything above one lamport waits for approval
        "allowedTokens": [mint],
        "tokens": {mint: {"instantMax": str(50 * USDC)}},
    }
    assert daemon.api("PUT", f"/v1/wallets/{alice['id']}/policy", json=policy).status_code == 200
    with _agent(daemon, alice["id"]) as a:
        instant = _send(a, bob["address"], 50 * USDC, token="USDC")
        assert (instant.status_code, instant.json()["tier"]) == (201, "INSTANT")
        held = _send(a, bob["address"], 50 * USDC + 1, token="USDC")
        assert (held.status_code, held.json()["status"]) == (202, "PENDING_APPROVAL")
        approved = daemon.api("POST", f"/v1/pending/{held.json()['id']}/approve")
        assert approved.json()["status"] == "CONFIRMED", approved.text
        assert approved.json()["token"]["mint"] == mint
        daemon.api(
            "PUT", f"/v1/wallets/{alice['id']}/policy", json={"allowedTokens": [bob["address"]]}
        )
        refused = _send(a, bob["address"], USDC, token="USDC")
        assert refused.json()["code"] == "POLICY_DENIED"
    with _agent(daemon, bob["id"]) as b:
        assert _held(b, "USDC") == (10 + 50 + 50) * USDC + 1


def _burst(base_url, token, to, stop, accepted):
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    ) as http:
        while not stop.is_set():
            try:
                response = http.post(
                    "/v1/transactions/send", json={"to": to, "amount": "7", "token": "USDC"}
                )
            except httpx.HTTPError:
                return
            if response.status_code == 201:
                accepted.append(response.json()["id"])


def test_token_balances_survive_a_restart_and_a_sigkill_mid_burst(tmp_path):
    data = tmp_path / "data"
    rng = random.Random(11)
    accepted: list[str] = []
    with running_daemon(data, config={"security": FAST_SECURITY}) as first:
        alice, bob = first.create_wallet("alice"), first.create_wallet("bob")
        _airdrop(first, alice["id"], 10 * SOL)
        _airdrop(first, alice["id"], 1000 * USDC, token="USDC")
        mint = _usdc_mint(first)
        token = first.create_session(alice["id"], expiresIn=3600)["token"]
        assert first.stop() == 0
    with running_daemon(data) as second:
        # The same test mint, and its authority still held: airdrops keep working.
        assert _usdc_mint(second) == mint
        _airdrop(second, alice["id"], USDC, token="USDC")
        with _agent(second, alice["id"]) as a:
            assert _held(a, "USDC") == 1001 * USDC
    for _ in range(2):
        with running_daemon(data) as running:
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_burst, args=(running.base_url, token, bob["address"], stop, accepted)
                )
                for _ in range(3)
            ]
            for thread in threads:
                thread.start()
            goal = len(accepted) + 4
            deadline = time.monotonic() + 30
            while len(accepted) < goal and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.2))
            running.kill()
            stop.set()
            for thread in threads:
                thread.join(10)
    assert len(accepted) >= 8, "the burst never got going"
    with running_daemon(data) as last, _agent(last, alice["id"]) as a, _agent(last, bob["id"]) as b:
        items, cursor = [], None
        while True:
            page = a.get(
                "/v1/transactions", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
            ).json()
            items += page["items"]
            cursor = page["cursor"]
            if not cursor:
                break
        assert not [t for t in items if t["status"] in ("PENDING", "SUBMITTED")]
        confirmed = [t for t in items if t["type"] == "TRANSFER" and t["status"] == "CONFIRMED"]
        assert {t["id"] for t in confirmed} >= set(accepted)
        sent = sum(int(t["amount"]) for t in confirmed)
        assert _held(b, "USDC") == sent
        assert _held(a, "USDC") == 1001 * USDC - sent
        assert _sol(a) == 10 * SOL - len(confirmed) * FEE - ATA_RENT


@pytest.fixture
def daemon(tmp_path):
    with running_daemon(tmp_path / "data", config={"security": FAST_SECURITY}) as running:
        yield running
