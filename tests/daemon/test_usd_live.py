"""Dollar rules in a real `waiaas-daemon serve` whose [prices] point at loopback servers:
every source down holds a send for the owner with the reason `no price`, shown on the
pending list; the price module is not imported by a daemon that starts."""

from __future__ import annotations

import subprocess
import sys

from solders.keypair import Keypair

from tests.support.daemon import FAST_SECURITY, running_daemon
from tests.support.prices import price_fakes

SOL = 1_000_000_000


def test_every_price_source_down_holds_a_send_with_no_price(tmp_path):
    with price_fakes() as fakes:
        for source in fakes.sources:
            source.down = True
        config = {"security": FAST_SECURITY, "prices": fakes.config(max_age=30, timeout=2)}
        with running_daemon(tmp_path / "data", config=config) as daemon:
            wallet = daemon.create_wallet()
            airdrop = daemon.api(
                "POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(SOL)}
            )
            assert airdrop.status_code == 201, airdrop.text
            policy = {"instantMax": str(SOL), "usd": {"dailyLimit": "1000"}}
            put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy)
            assert put.status_code == 200, put.text
            session = daemon.create_session(wallet["id"])
            with daemon.client() as http:
                held = http.post(
                    "/v1/transactions/send",
                    json={"to": str(Keypair().pubkey()), "amount": "5000000"},
                    headers={"Authorization": f"Bearer {session['token']}"},
                )
            assert held.status_code == 202, held.text
            assert held.json()["tierReason"] == "no price"
            [waiting] = daemon.api("GET", "/v1/pending").json()["items"]
            assert waiting["tierReason"] == "no price"
            assert "jupiter: HTTP 503" in waiting["usd"]["error"]
            assert [s.hits for s in fakes.sources] == [1, 1, 1]


def test_starting_the_daemon_imports_nothing_of_prices():
    probe = (
        "import sys, waiaas_daemon.serving.server, waiaas_daemon.serving.app, "
        "waiaas_daemon.domain.transactions, waiaas_daemon.domain.payments; "
        "print(sorted(m for m in sys.modules if m.startswith('waiaas_daemon.domain.prices')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
