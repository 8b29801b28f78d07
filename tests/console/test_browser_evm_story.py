"""An EVM send's page names the network it went out on, not its wallet's default (issue 27).

An EVM wallet has one address on every EVM network: a wallet whose network is the
embedded ``evm-local`` may send on Sepolia (anvil posing as it). The send's page, its
explorer link, its amounts and the activity chart must all follow the send's own
network, in real Chromium on a real daemon.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.console.test_browser import _sign_in, browser, page
from tests.daemon.evm_support import ETH, NETWORK, anvil_node
from tests.support.anvil import Anvil
from tests.support.daemon import Daemon, running_daemon

__all__ = ["browser", "page"]

RECIPIENT = "0x000000000000000000000000000000000000bEEF"


@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    yield from anvil_node()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, anvil: Anvil) -> Iterator[Daemon]:
    data_dir = tmp_path_factory.mktemp("evm-story") / "data"
    data_dir.mkdir(mode=0o700)
    # The wallets' EVM network stays the embedded evm-local; Sepolia is anvil.
    (data_dir / "config.toml").write_text(
        "[security]\nmin_session_ttl = 1\nsession_ttl = 3600\n"
        f'[evm.rpc_urls]\n{NETWORK} = ["{anvil.url}"]\n'
    )
    with running_daemon(data_dir) as running:
        yield running


def _bearer(session: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


def test_a_send_on_another_network_shows_that_network_its_explorer_and_its_coin(
    daemon: Daemon, anvil: Anvil, page: Page
):
    # The first EVM wallet imports the eth libraries: seconds on a loaded machine.
    with httpx.Client(base_url=daemon.base_url, timeout=120) as http:
        created = http.post(
            "/v1/wallets", json={"name": "multichain", "chain": "evm"}, headers=daemon.master
        )
    assert created.status_code == 201, created.text
    wallet = created.json()
    assert wallet["network"] == "evm-local"
    policy = {"allowedNetworks": ["evm-local", NETWORK]}
    put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json=policy)
    assert put.status_code == 200, put.text
    anvil.set_balance(wallet["address"], 10 * ETH)
    session = daemon.create_session(wallet["id"], label="bridge-bot")
    with httpx.Client(base_url=daemon.base_url, timeout=60) as http:
        sent = http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": str(ETH // 4), "network": NETWORK},
            headers=_bearer(session),
        )
    assert sent.status_code == 201, sent.text
    with daemon.client() as http:
        got = http.get(f"/v1/transactions/{sent.json()['id']}", headers=_bearer(session))
    record = got.json()
    assert record["network"] == NETWORK and record["signature"], record

    _sign_in(page, daemon)
    page.goto(f"{daemon.base_url}/console/transactions/{record['id']}")
    expect(page.locator("#send-network")).to_have_text(NETWORK)
    link = page.get_by_role("link", name="See it on Etherscan (Sepolia)")
    expect(link).to_have_attribute("href", f"https://sepolia.etherscan.io/tx/{record['signature']}")
    expect(page.get_by_text("0.25 ETH").first).to_be_visible()
    # The story's audit entries give the amount in the send's coin too.
    expect(page.locator("ol.story")).to_contain_text("· 0.25 ETH")
    expect(page.locator("ol.story")).not_to_contain_text("SOL")

    page.goto(f"{daemon.base_url}/console/activity?wallet={wallet['id']}")
    expect(page.get_by_role("img", name="Daily spend in ETH")).to_be_visible()
    expect(page.get_by_role("img", name="Daily spend in SOL")).to_have_count(0)
    expect(page.get_by_role("figure").first).to_contain_text("0.25 ETH")

    page.goto(f"{daemon.base_url}/console/audit?walletId={wallet['id']}&action=send.allowed")
    entry = page.get_by_role("row").filter(has_text="send.allowed")
    expect(entry).to_contain_text("0.25 ETH")  # not 250000000 SOL: the send's network's coin
    expect(entry).to_contain_text(f"network: {NETWORK}")
