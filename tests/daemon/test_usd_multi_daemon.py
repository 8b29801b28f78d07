"""A dollar daily limit through two real daemons on one PostgreSQL database, with prices
from loopback Pyth/CoinGecko/Jupiter servers: parallel sends reach exactly the limit,
never more, because the dollar totals are read under the wallet's lock like the rest."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from solders.keypair import Keypair

from tests.daemon.fake_rpc_node import Delay, ThreadedNode
from tests.daemon.test_multi_daemon import (
    AMOUNT,
    audit_is_one_chain,
    funded_wallet,
    in_parallel,
    send,
)
from tests.support.daemon import FAST_SECURITY, Daemon, start_daemon
from tests.support.prices import PriceFakes, price_fakes

pytestmark = pytest.mark.slow


@pytest.fixture
def node() -> Iterator[ThreadedNode]:
    with ThreadedNode() as running:
        yield running


@contextlib.contextmanager
def priced_daemons(
    tmp_path: Path, postgres_url: str, node: ThreadedNode, fakes: PriceFakes
) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    try:
        for n in range(2):
            config = {
                "storage": {"url": postgres_url},
                "solana": {"network": "devnet", "rpc_url": node.url},
                "security": FAST_SECURITY,
                "prices": fakes.config(),
            }
            started.append(start_daemon(tmp_path / f"d{n}", config=config))
        yield started
    finally:
        for daemon in started:
            daemon.kill()
            daemon.close()


def test_parallel_sends_through_two_daemons_reach_a_usd_daily_limit_exactly(
    tmp_path, postgres_url, node
):
    with price_fakes() as fakes, priced_daemons(tmp_path, postgres_url, node, fakes) as (a, b):
        fakes.set("SOL", "100")  # AMOUNT (0.01 SOL) is worth $1
        wallet = funded_wallet(a, node)
        policy = {"usd": {"dailyLimit": "5"}}
        assert a.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy).status_code == 200
        session = a.create_session(wallet["id"])
        to = str(Keypair().pubkey())
        # A slow balance check sits between each send's decision and its record.
        node.call(lambda: node.node.fail("getBalance", *[Delay(0.3)] * 12))
        answers = in_parallel([lambda d=d: send(d, session, to) for d in (a, b) * 6])
        passed = [r for r in answers if r.status_code == 201]
        held = [r for r in answers if r.status_code == 202]
        assert len(passed) == 5 and len(held) == 7, [r.text for r in answers]
        assert {r.json()["tierReason"] for r in held} == {"usd.dailyLimit"}
        assert all(r.json()["usd"]["value"] == "1" for r in answers)
        assert node.balance(to) == 5 * AMOUNT
        assert audit_is_one_chain(b)["ok"] is True
