"""EVM wallets and sends on a real node (anvil as Sepolia), through the daemon's REST API."""

from __future__ import annotations

import json

import anyio
import pytest
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tests.daemon.conftest import MASTER
from tests.daemon.evm_support import (
    CONTRACTS,
    ETH,
    NETWORK,
    RefusingProxy,
    anvil_node,
    balance,
    deploy_usdc,
    dev_send,
    evm_agent,
    evm_harness,
    evm_settings,
    mint_usdc,
    usdc_balance,
)
from waiaas_daemon.domain import wallets

pytestmark = pytest.mark.anyio

RECIPIENT = "0x000000000000000000000000000000000000dEaD"
SOLANA_ADDRESS = "GFw6bpUcXdcwA4r8WgBoMzwoCXZi18byKGDqsEA9nrVh"


@pytest.fixture
def anvil():
    yield from anvil_node()


@pytest.fixture
def unmined(monkeypatch):
    """A send answers at once, SUBMITTED, where the test keeps its block from coming."""
    from waiaas_daemon.chain.evm import adapter

    monkeypatch.setattr(adapter, "RECEIPT_WAIT", 0.0)


async def _send(harness, agent, **body):
    return await harness.http.post("/v1/transactions/send", json=body, headers=agent.headers)


async def test_an_evm_wallet_has_one_checksummed_address_and_its_chain(tmp_path, anvil):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil, wei=0)
        wallet = agent.wallet
        assert wallet["chain"] == "evm" and wallet["network"] == NETWORK
        from eth_utils import to_checksum_address

        assert wallet["address"] == to_checksum_address(wallet["address"])
        # The key is sealed like a Solana key: the row holds ciphertext, never the key.
        row = await harness.state.db.get_wallet(wallet["id"])
        assert row is not None and len(row.key_ciphertext) == 32 + 16
        signer = await wallets.unlock_signer(harness.state, row)
        assert signer.address == Account.from_key(signer.key).address == wallet["address"]
        address = (await harness.as_agent(agent.headers["Authorization"][7:])).json()
        assert address["chain"] == "evm" and address["address"] == wallet["address"]
        solana = await harness.wallet("sol")
        assert solana["chain"] == "solana" and solana["network"] == "local"


async def test_a_native_send_is_signed_with_the_chain_id_confirmed_and_its_fee_kept(
    tmp_path, anvil
):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        first = await _send(harness, agent, to=RECIPIENT, amount=str(ETH // 100))
        assert first.status_code == 201, first.text
        assert first.json()["status"] == "CONFIRMED"
        second = await _send(harness, agent, to=RECIPIENT.lower(), amount=str(ETH // 100))
        assert second.json()["status"] == "CONFIRMED"
        assert balance(anvil, RECIPIENT) == 2 * ETH // 100
        record = (
            await harness.http.get(f"/v1/transactions/{first.json()['id']}", headers=agent.headers)
        ).json()
        assert record["network"] == NETWORK and record["nonce"] == 0
        assert int(record["fee"]) > 0
        assert record["to"] == RECIPIENT  # stored in EIP-55 form
        chain_tx = anvil.rpc("eth_getTransactionByHash", [record["signature"]])
        assert int(chain_tx["chainId"], 16) == 11155111 and chain_tx["type"] == "0x2"
        listed = (await harness.http.get("/v1/transactions", headers=agent.headers)).json()
        assert [t["nonce"] for t in listed["items"]] == [1, 0]
        spent = 10 * ETH - balance(anvil, agent.address)
        assert spent == 2 * ETH // 100 + sum(int(t["fee"]) for t in listed["items"])


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (
            "GFw6bpUcXdcwA4r8WgBoMzwoCXZi18byKGDqsEA9nrVh",
            "is a Solana address, but this is an EVM wallet",
        ),
        ("0x000000000000000000000000000000000000DEAD", "to: "),  # all upper: fine
        ("0x000000000000000000000000000000000000DeaD", "checksum"),
        ("0x1234", "to: "),
    ],
)
async def test_an_evm_wallet_refuses_another_chains_address_naming_the_field(
    tmp_path, anvil, to, expected
):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        response = await _send(harness, agent, to=to, amount="1000")
        if to.endswith("DEAD"):
            assert response.status_code == 201, response.text
            return
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "INVALID_ADDRESS"
        assert expected in response.json()["message"] and "to" in response.json()["message"]


async def test_a_solana_wallet_refuses_an_evm_address(tmp_path, anvil):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        wallet = await harness.wallet("sol")
        await harness.http.post(
            f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": str(10**9)}, headers=MASTER
        )
        token = (await harness.session(wallet["id"]))["token"]
        response = await harness.http.post(
            "/v1/transactions/send",
            json={"to": RECIPIENT, "amount": "1000"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_ADDRESS"
        assert (
            "to: " in response.json()["message"] and "Solana wallet" in response.json()["message"]
        )


async def test_an_erc20_send_reads_decimals_and_symbol_from_the_chain(tmp_path, anvil):
    usdc = deploy_usdc(anvil)
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        mint_usdc(anvil, usdc, agent.address, 5_000_000)
        sent = await _send(harness, agent, to=RECIPIENT, amount="1250000", token=usdc.lower())
        assert sent.status_code == 201, sent.text
        assert sent.json()["status"] == "CONFIRMED"
        record = (
            await harness.http.get(f"/v1/transactions/{sent.json()['id']}", headers=agent.headers)
        ).json()
        assert record["token"] == {"mint": usdc, "symbol": "USDC", "decimals": 6}
        assert usdc_balance(anvil, usdc, RECIPIENT) == 1_250_000
        over = await _send(harness, agent, to=RECIPIENT, amount="3750001", token=usdc)
        assert over.status_code == 400 and over.json()["code"] == "INSUFFICIENT_BALANCE"
        await harness.http.post(
            "/v1/tokens",
            json={"network": NETWORK, "mint": usdc, "symbol": "TUSDC"},
            headers=MASTER,
        )
        got = await harness.http.get("/v1/wallet/assets", headers=agent.headers)
        assert got.status_code == 200, got.text
        assets = got.json()
        assert assets["network"] == NETWORK
        assert assets["items"][0]["symbol"] == "ETH" and assets["items"][0]["decimals"] == 18
        mine = [a for a in assets["items"] if a["mint"] == usdc]
        assert mine == [
            {
                "symbol": "TUSDC",
                "mint": usdc,
                "amount": "3750000",
                "decimals": 6,
                "tokenProgram": "erc20",
            }
        ]


async def test_balance_and_sends_on_another_network_need_allowed_networks(tmp_path, anvil):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        got = await harness.http.get("/v1/wallet/balance", headers=agent.headers)
        assert got.json()["symbol"] == "ETH" and got.json()["balance"] == str(10 * ETH)
        wrong = await harness.http.get("/v1/wallet/balance?network=devnet", headers=agent.headers)
        assert wrong.status_code == 400 and "network" in wrong.json()["message"]
        denied = await _send(harness, agent, to=RECIPIENT, amount="1", network="base")
        assert denied.status_code == 403 and denied.json()["code"] == "POLICY_DENIED"
        assert "allowedNetworks" in denied.json()["message"]
        put = await harness.http.put(
            f"/v1/wallets/{agent.wallet['id']}/policy",
            json={"allowedNetworks": ["base"]},
            headers=MASTER,
        )
        assert put.status_code == 200, put.text
        home = await _send(harness, agent, to=RECIPIENT, amount="1")
        assert home.status_code == 403 and "sepolia is not in" in home.json()["message"]


async def test_a_fee_above_the_owners_ceiling_is_refused_unsigned(tmp_path, anvil):
    settings = evm_settings(anvil.url, evm_max_fee_per_gas={NETWORK: 1})
    async with evm_harness(tmp_path, settings) as harness:
        agent = await evm_agent(harness, anvil)
        response = await _send(harness, agent, to=RECIPIENT, amount="1000")
        assert response.status_code == 502 and response.json()["retryable"] is True
        assert "ceiling" in response.json()["message"]
        listed = (await harness.http.get("/v1/transactions", headers=agent.headers)).json()
        assert listed["items"] == [] or listed["items"][0]["signature"] is None
        assert anvil.rpc("eth_getTransactionCount", [agent.address, "pending"]) == "0x0"


async def test_a_send_answers_confirmed_when_its_block_comes_within_the_receipt_wait(
    tmp_path, anvil
):
    # anvil answers a broadcast before it mines (as a real node does before its next
    # block): the send waits briefly for the receipt instead of answering SUBMITTED.
    anvil.set_automine(False)
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        async with anyio.create_task_group() as group:

            async def mine_once_sent() -> None:
                while anvil.rpc("eth_getTransactionCount", [agent.address, "pending"]) == "0x0":
                    await anyio.sleep(0.02)
                await anyio.sleep(0.3)
                anvil.mine(1)

            group.start_soon(mine_once_sent)
            sent = await _send(harness, agent, to=RECIPIENT, amount=str(ETH // 100))
        assert sent.status_code == 201, sent.text
        assert sent.json()["status"] == "CONFIRMED", sent.text
        assert balance(anvil, RECIPIENT) == ETH // 100


async def test_a_stuck_send_is_replaced_with_a_higher_fee_same_nonce_never_duplicated(
    tmp_path, anvil, unmined
):
    anvil.set_automine(False)
    async with evm_harness(tmp_path, evm_settings(anvil.url, evm_replace_after=120)) as harness:
        agent = await evm_agent(harness, anvil)
        sent = await _send(harness, agent, to=RECIPIENT, amount=str(ETH))
        assert sent.status_code == 201 and sent.json()["status"] == "SUBMITTED"
        tx_id, first_hash = sent.json()["id"], sent.json()["signature"]
        path = f"/v1/transactions/{tx_id}"
        harness.clock.advance(119)
        still = (await harness.http.get(path, headers=agent.headers)).json()
        assert still["signature"] == first_hash  # not yet: the documented time is 120 s
        # The node drops the first version (as a mempool may), and time passes.
        anvil.rpc("anvil_dropTransaction", [first_hash])
        anvil.rpc("anvil_dropAllTransactions")
        harness.clock.advance(1)
        rebroadcast = (await harness.http.get(path, headers=agent.headers)).json()
        assert rebroadcast["signature"] == first_hash  # unknown to the node: same bytes again
        pool = anvil.rpc("txpool_content")
        assert first_hash in json.dumps(pool)
        old = anvil.rpc("eth_getTransactionByHash", [first_hash])
        harness.clock.advance(120)
        replaced = (await harness.http.get(path, headers=agent.headers)).json()
        assert replaced["signature"] != first_hash and replaced["nonce"] == 0
        assert "replaced with a higher fee" in replaced["error"]
        new = anvil.rpc("eth_getTransactionByHash", [replaced["signature"]])
        assert int(new["maxFeePerGas"], 16) > int(old["maxFeePerGas"], 16)
        assert (new["to"], new["value"], new["input"], new["nonce"]) == (
            old["to"],
            old["value"],
            old["input"],
            old["nonce"],
        )
        anvil.mine(1)
        done = (await harness.http.get(path, headers=agent.headers)).json()
        assert done["status"] == "CONFIRMED" and done["signature"] == replaced["signature"]
        assert balance(anvil, RECIPIENT) == ETH  # once
        assert anvil.rpc("eth_getTransactionReceipt", [first_hash]) is None


async def test_a_receipt_lost_in_a_reorg_puts_the_send_back_and_the_same_bytes_land(
    tmp_path, anvil
):
    settings = evm_settings(anvil.url, evm_confirmations={NETWORK: 3})
    async with evm_harness(tmp_path, settings) as harness:
        agent = await evm_agent(harness, anvil)
        before = anvil.snapshot()
        anvil.set_balance(agent.address, 10 * ETH)  # the snapshot keeps the funding
        sent = await _send(harness, agent, to=RECIPIENT, amount=str(ETH))
        body = sent.json()
        assert body["status"] == "SUBMITTED", body
        path = f"/v1/transactions/{body['id']}"
        mined = (await harness.http.get(path, headers=agent.headers)).json()
        assert mined["status"] == "SUBMITTED", (body, mined)
        assert "1 of 3 confirmations" in mined["error"], (body, mined)
        raw = (await harness.state.db.get_transaction(body["id"])).raw
        anvil.revert(before)  # the block with the receipt is gone, and the node forgot it
        anvil.set_balance(agent.address, 10 * ETH)
        assert anvil.rpc("eth_getTransactionReceipt", [body["signature"]]) is None
        again = (await harness.http.get(path, headers=agent.headers)).json()
        assert again["status"] == "SUBMITTED" and again["signature"] == body["signature"]
        assert (await harness.state.db.get_transaction(body["id"])).raw == raw
        anvil.mine(3)
        done = (await harness.http.get(path, headers=agent.headers)).json()
        assert done["status"] == "CONFIRMED", done
        assert balance(anvil, RECIPIENT) == ETH


async def test_a_reverted_token_send_is_failed_with_its_reason_and_its_fee(
    tmp_path, anvil, unmined
):
    usdc = deploy_usdc(anvil)
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        mint_usdc(anvil, usdc, agent.address, 1_000_000)
        anvil.set_automine(False)
        sent = await _send(harness, agent, to=RECIPIENT, amount="800000", token=usdc)
        assert sent.json()["status"] == "SUBMITTED", sent.text
        # Before it is mined the tokens are gone (as another spender's transfer would
        # take them): the transaction is mined, reverts, and pays its gas.
        slot = keccak(encode(["address", "uint256"], [agent.address, 1]))
        anvil.rpc("anvil_setStorageAt", [usdc, "0x" + slot.hex(), "0x" + "00" * 32])
        anvil.mine(1)
        failed = (
            await harness.http.get(f"/v1/transactions/{sent.json()['id']}", headers=agent.headers)
        ).json()
        assert failed["status"] == "FAILED" and failed["error"].startswith("reverted: ")
        assert "exceeds balance" in failed["error"]
        assert int(failed["fee"]) > 0 and failed["nonce"] == 0
        receipt = anvil.rpc("eth_getTransactionReceipt", [failed["signature"]])
        assert receipt["status"] == "0x0"


async def test_a_token_send_the_node_says_would_revert_is_not_signed(tmp_path, anvil):
    artifact = json.loads((CONTRACTS / "RevertingToken.json").read_text())
    token = to_checksum_address(dev_send(anvil, None, artifact["bytecode"])["contractAddress"])
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        mint = "0x40c10f19" + encode(["address", "uint256"], [agent.address, 10**18]).hex()
        dev_send(anvil, token, mint)
        refused = await _send(harness, agent, to=RECIPIENT, amount="1000", token=token)
        assert refused.status_code == 400, refused.text
        assert "transfers are disabled" in refused.json()["message"]
        listed = (await harness.http.get("/v1/transactions", headers=agent.headers)).json()
        assert [(t["status"], t["signature"], t["nonce"]) for t in listed["items"]] == [
            ("FAILED", None, None)
        ]
        assert anvil.rpc("eth_getTransactionCount", [agent.address, "pending"]) == "0x0"


async def test_sends_fail_over_to_the_next_rpc_url(tmp_path, anvil):
    with anyio.fail_after(60):
        dead = "http://127.0.0.1:9"  # discard port: nothing listens
        async with evm_harness(tmp_path, evm_settings(dead, anvil.url)) as harness:
            agent = await evm_agent(harness, anvil)
            sent = await _send(harness, agent, to=RECIPIENT, amount="1000")
            assert sent.status_code == 201 and sent.json()["status"] == "CONFIRMED"


async def test_parallel_sends_take_consecutive_nonces(tmp_path, anvil):
    async with evm_harness(tmp_path, evm_settings(anvil.url)) as harness:
        agent = await evm_agent(harness, anvil)
        results = []

        async def one() -> None:
            results.append(await _send(harness, agent, to=RECIPIENT, amount="1000"))

        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(one)
        assert all(r.status_code == 201 for r in results), [r.text for r in results]
        listed = (await harness.http.get("/v1/transactions", headers=agent.headers)).json()
        assert sorted(t["nonce"] for t in listed["items"]) == list(range(6))
        assert balance(anvil, RECIPIENT) == 6000
        account = Account.from_key(b"\x01" * 32)  # unrelated: the module imports eth-account
        assert account.address


async def test_the_scheduler_replaces_a_stuck_send_without_anyone_reading_it(
    tmp_path, anvil, unmined
):
    from waiaas_daemon.domain.scheduler import Scheduler

    anvil.set_automine(False)
    async with evm_harness(tmp_path, evm_settings(anvil.url, evm_replace_after=60)) as harness:
        agent = await evm_agent(harness, anvil)
        sent = (await _send(harness, agent, to=RECIPIENT, amount=str(ETH))).json()
        scheduler = Scheduler(harness.state)
        assert await scheduler.run_due() == 0
        row = await harness.state.db.get_transaction(sent["id"])
        assert row is not None and row.signature == sent["signature"]
        harness.clock.advance(60)
        await scheduler.run_due()
        row = await harness.state.db.get_transaction(sent["id"])
        assert row is not None and row.signature != sent["signature"]
        assert row.replaced_hashes == [sent["signature"]] and row.nonce == 0
        anvil.mine(1)
        assert await scheduler.run_due() == 1
        row = await harness.state.db.get_transaction(sent["id"])
        assert row is not None and row.status == "CONFIRMED"
        assert balance(anvil, RECIPIENT) == ETH


async def test_a_refused_broadcast_gives_its_nonce_back_to_the_next_send(tmp_path, anvil):
    proxy = RefusingProxy(anvil.url, refuse=1)
    try:
        async with evm_harness(tmp_path, evm_settings(proxy.url)) as harness:
            agent = await evm_agent(harness, anvil)
            refused = await _send(harness, agent, to=RECIPIENT, amount="1000")
            assert refused.status_code == 201 and refused.json()["status"] == "FAILED"
            record = (
                await harness.http.get(
                    f"/v1/transactions/{refused.json()['id']}", headers=agent.headers
                )
            ).json()
            assert record["error"].startswith("refused: insufficient funds")
            assert record["nonce"] is None and record["fee"] is None
            sent = await _send(harness, agent, to=RECIPIENT, amount="1000")
            assert sent.json()["status"] == "CONFIRMED", sent.text
            again = (
                await harness.http.get(
                    f"/v1/transactions/{sent.json()['id']}", headers=agent.headers
                )
            ).json()
            assert again["nonce"] == 0  # no gap left behind the refused one
            assert balance(anvil, RECIPIENT) == 1000
    finally:
        proxy.close()
