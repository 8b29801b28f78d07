"""`waiaas-daemon local-node` (issue 29 item 8): the embedded local chain as a Solana JSON-RPC
node, run as the real command, driven by the `solana` Python client and by RpcChain unchanged."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.commitment import Confirmed
from solana.rpc.models import TokenAccountOpts, TxOpts
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from tests.support.local_node import LocalNode, running_local_node
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_PROGRAM
from waiaas_daemon.chain.rpc import RpcChain
from waiaas_daemon.chain.x402 import build_exact_payment

pytestmark = pytest.mark.anyio

SOL = 10**9


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_local_node(tmp_path / "ledger.db") as running:
        yield running


def _transfer(sender: Keypair, to: Pubkey, lamports: int, blockhash) -> Transaction:
    params = TransferParams(from_pubkey=sender.pubkey(), to_pubkey=to, lamports=lamports)
    return Transaction([sender], Message([transfer(params)], sender.pubkey()), blockhash)


async def test_the_solana_client_works_against_the_node_unchanged(node: LocalNode):
    alice, bob, authority = Keypair(), Keypair(), Keypair()
    async with AsyncClient(node.url, commitment=Confirmed) as client:
        assert await client.is_connected()
        airdrop = await client.request_airdrop(alice.pubkey(), 2 * SOL)
        await client.confirm_transaction(airdrop.value, sleep_seconds=0.01)
        assert (await client.get_balance(alice.pubkey())).value == 2 * SOL
        latest = (await client.get_latest_blockhash()).value
        tx = _transfer(alice, bob.pubkey(), SOL // 4, latest.blockhash)
        sent = await client.send_transaction(VersionedTransaction.from_legacy(tx))
        [status] = (await client.get_signature_statuses([sent.value])).value
        assert status is not None and status.err is None
        assert (await client.get_balance(bob.pubkey())).value == SOL // 4
        for encoding in ("json", "base64"):
            found = (await client.get_transaction(sent.value, encoding)).value
            assert found is not None and found.transaction.meta is not None
            assert found.transaction.meta.fee == 5000
            assert found.transaction.meta.post_balances[1] == SOL // 4
        history = (await client.get_signatures_for_address(bob.pubkey(), limit=10)).value
        assert [entry.signature for entry in history] == [sent.value]
        # A token: a mint, an account, the parsed and the raw views of both.
        mint = Pubkey.from_string(node.create_mint(authority, 6))
        node.mint_to(authority, bob.pubkey(), str(mint), 1_500_000)
        parsed = await client.get_token_accounts_by_owner_json_parsed(
            bob.pubkey(), TokenAccountOpts(mint=mint)
        )
        [entry] = parsed.value
        amount = entry.account.data.parsed["info"]["tokenAmount"]
        assert (amount["amount"], amount["uiAmountString"]) == ("1500000", "1.5")
        raw = await client.get_token_accounts_by_owner(
            bob.pubkey(), TokenAccountOpts(program_id=Pubkey.from_string(TOKEN_PROGRAM))
        )
        [entry] = raw.value
        assert spl.parse_token_account(TOKEN_PROGRAM, bytes(entry.account.data)).amount == 1_500_000
        account = (await client.get_account_info(mint)).value
        assert account is not None and str(account.owner) == TOKEN_PROGRAM
        rent = (await client.get_minimum_balance_for_rent_exemption(165)).value
        assert rent == account_rent(node, 165)
        many = (await client.get_multiple_accounts([alice.pubkey(), Keypair().pubkey()])).value
        assert many[0] is not None and many[1] is None
        # Preflight refuses what cannot work, in the node's error shape.
        broke = _transfer(Keypair(), bob.pubkey(), 1, latest.blockhash)
        with pytest.raises(Exception, match="simulation failed"):
            await client.send_transaction(VersionedTransaction.from_legacy(broke))
        # skipPreflight lands a failing transaction as failed, as a cluster does.
        poor = Keypair()
        node.airdrop(poor.pubkey(), SOL // 100)
        latest = (await client.get_latest_blockhash()).value
        too_much = _transfer(poor, bob.pubkey(), SOL, latest.blockhash)
        failed = await client.send_transaction(
            VersionedTransaction.from_legacy(too_much), TxOpts(skip_preflight=True)
        )
        [status] = (await client.get_signature_statuses([failed.value])).value
        assert status is not None and status.err is not None


def account_rent(node: LocalNode, size: int) -> int:
    return int(node.rpc("getMinimumBalanceForRentExemption", size))


async def test_rpc_chain_sends_tokens_and_finds_a_cosigned_payment_on_the_node(node: LocalNode):
    chain = RpcChain("local", node.url + "/", poll_interval=0.01, retry_delays=(0.01,))
    try:
        payer, merchant, facilitator, authority = Keypair(), Keypair(), Keypair(), Keypair()
        assert (await chain.airdrop(str(payer.pubkey()), SOL)).status == "CONFIRMED"
        node.airdrop(facilitator.pubkey(), SOL)
        prepared = await chain.prepare_transfer(payer, str(merchant.pubkey()), SOL // 10, None)
        assert (await chain.submit(prepared)).status == "CONFIRMED"
        assert await chain.get_balance(str(merchant.pubkey())) == SOL // 10
        again = await chain.submit(prepared)  # the same bytes: AlreadyProcessed, settled once
        assert again.status == "CONFIRMED" and node.balance(merchant.pubkey()) == SOL // 10
        mint = node.create_mint(authority, 6)
        node.mint_to(authority, payer.pubkey(), mint, 10_000_000)
        info = await chain.mint_info(mint)
        assert (info.decimals, info.program) == (6, TOKEN_PROGRAM)
        cost = await chain.token_transfer_cost(str(merchant.pubkey()), mint, TOKEN_PROGRAM)
        assert cost.rent == account_rent(node, 165)
        send = await chain.prepare_token_transfer(
            payer, str(merchant.pubkey()), mint, 250_000, 6, TOKEN_PROGRAM, "memo"
        )
        assert (await chain.submit(send)).status == "CONFIRMED"
        [held] = await chain.token_accounts(str(merchant.pubkey()))
        assert (held.mint, held.amount) == (mint, 250_000)
        # An x402 payment: the payer signs slot 1, the facilitator pays the fee and submits.
        payment = build_exact_payment(
            payer,
            str(facilitator.pubkey()),
            str(merchant.pubkey()),
            mint,
            100_000,
            6,
            TOKEN_PROGRAM,
            await chain.fresh_blockhash(),
        )
        assert await chain.blockhash_valid(
            str(VersionedTransaction.from_bytes(payment.raw).message.recent_blockhash)
        )
        partial = VersionedTransaction.from_bytes(payment.raw)
        own = facilitator.sign_message(to_bytes_versioned(partial.message))
        signed = VersionedTransaction.populate(partial.message, [own, *partial.signatures[1:]])
        node.rpc(
            "sendTransaction", base64.b64encode(bytes(signed)).decode(), {"encoding": "base64"}
        )
        source = spl.associated_address(str(payer.pubkey()), mint, TOKEN_PROGRAM)
        found = await chain.find_cosigned(str(source), payment.signature)
        assert found is not None and (found.signature, found.status) == (str(own), "CONFIRMED")
        assert await chain.find_cosigned(str(source), str(Signature.new_unique())) is None
        assert await chain.status(str(own)) is not None
    finally:
        await chain.aclose()


def test_the_ledger_survives_a_restart_with_its_history(tmp_path: Path):
    alice, bob = Keypair(), Keypair()
    node = LocalNode(tmp_path / "ledger.db").start()
    try:
        airdrop = node.airdrop(alice.pubkey(), SOL)
        blockhash = node.blockhash()
        tx = _transfer(alice, bob.pubkey(), SOL // 2, blockhash)
        sent = node.send(tx)
        slot = node.rpc("getSlot")
        node.stop()
        node.start()
        assert node.balance(bob.pubkey()) == SOL // 2
        assert node.balance(alice.pubkey()) == SOL // 2 - 5000
        assert node.rpc("getSlot") >= slot
        [status, first] = node.rpc("getSignatureStatuses", [sent, airdrop])["value"]
        assert status["err"] is None and first["confirmationStatus"] == "finalized"
        history = node.rpc("getSignaturesForAddress", str(alice.pubkey()))
        assert [h["signature"] for h in history] == [sent, airdrop]
        found = node.rpc("getTransaction", sent, {"encoding": "base64"})
        assert base64.b64decode(found["transaction"][0]) == bytes(tx)
        # A blockhash handed out before the restart still works, and a resubmission lands once.
        assert node.rpc("isBlockhashValid", str(blockhash))["value"] is True
        answer = httpx.post(
            node.url, json=_request("sendTransaction", _b64(tx), {"encoding": "base64"})
        ).json()
        assert (
            answer["error"]["code"] == -32002
            and answer["error"]["data"]["err"] == "AlreadyProcessed"
        )
        assert node.balance(bob.pubkey()) == SOL // 2
    finally:
        node.kill()


def _b64(tx: Transaction) -> str:
    return base64.b64encode(bytes(tx)).decode()


def _request(method: str, *params: object, request_id: object = 1) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}


def test_the_node_refuses_a_non_loopback_address_without_allow_remote(tmp_path: Path):
    command = [
        sys.executable,
        "-m",
        "waiaas_daemon",
        "local-node",
        "--ledger",
        str(tmp_path / "l.db"),
    ]
    refused = subprocess.run(
        [*command, "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert "not a loopback address" in refused.stderr and "--allow-remote" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_the_node_applies_the_limits_and_the_host_guard_of_every_route(node: LocalNode):
    address = str(Keypair().pubkey())
    deep: object = []
    for _ in range(100):
        deep = [deep]
    cases = [
        (_request("getBalance", address, request_id=10**39), -32600),
        (_request("getBalance", deep), -32602),
        (_request("getBalance", address, {"minContextSlot": 10**39}), -32602),
        (_request("getBalance", address, {"commitment": "soon"}), -32602),
        (_request("getBalance", "not-an-address"), -32602),
        (_request("noSuchMethod"), -32601),
        (_request("sendTransaction", "AAAA", {"encoding": "base64"}), -32602),
    ]
    for body, code in cases:
        answer = httpx.post(node.url, json=body).json()
        assert answer["error"]["code"] == code, (body, answer)
    parse = httpx.post(node.url, content=b"{nope").json()
    assert parse["error"]["code"] == -32700
    assert httpx.post(node.url, content=b"[" + b" " * 60_000 + b"]").status_code == 413
    guarded = httpx.post(node.url, json=_request("getHealth"), headers={"Host": "evil.example"})
    assert guarded.status_code == 400
    batch = httpx.post(node.url, json=[_request("getHealth"), _request("getSlot", request_id=2)])
    assert [a["id"] for a in batch.json()] == [1, 2]
    assert httpx.get(node.url + "/health").text == "ok"
