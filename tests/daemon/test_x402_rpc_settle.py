"""A payment left SUBMITTED without a receipt on an RPC network is settled from the chain.

In-process daemon on devnet whose rpc_url is the fake node (tests/daemon/fake_rpc_node.py);
the facilitator is played by the test: it co-signs the payer's transaction as fee payer
and lands it on the node, so the payment's transaction id is a signature the daemon
never saw (docs/notes/x402.md)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from argon2 import PasswordHasher
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock
from tests.daemon.fake_rpc_node import FakeSolanaNode, node_server
from waiaas_core.config import Settings
from waiaas_daemon.chain import x402 as exact
from waiaas_daemon.domain import settlement, tokens, wallets
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = [pytest.mark.anyio]

SOL = 10**9
PRICE = 250_000


@asynccontextmanager
async def _daemon(tmp_path, rpc_url: str) -> AsyncIterator[tuple[DaemonState, httpx.AsyncClient]]:
    settings = Settings(network="devnet", rpc_url=rpc_url, min_session_ttl=10, session_ttl=3600)
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=FakeClock(), kdf=light, hasher=cheap
    ) as state:
        transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            yield state, http


async def _signed_payment(
    state: DaemonState,
    wallet_id: str,
    session_id: str,
    mint: str,
    pay_to: Pubkey,
    fee_payer: Keypair,
) -> tuple[str, VersionedTransaction]:
    """What ``payments`` saves before the header leaves (SUBMITTED, the payer's signature,
    the blockhash), and the transaction the facilitator would submit."""
    wallet = await state.db.get_wallet(wallet_id)
    assert wallet is not None
    chain = state.chain_for("devnet")
    token = await tokens.resolve(state.db, chain, "devnet", mint)
    blockhash = await chain.fresh_blockhash()  # type: ignore[attr-defined]
    prepared = exact.build_exact_payment(
        wallets.signer(state, wallet),
        str(fee_payer.pubkey()),
        str(pay_to),
        mint,
        PRICE,
        token.decimals,
        token.program,
        blockhash,
    )
    now = state.now()
    record = {
        "id": str(uuid.uuid4()),
        "wallet_id": wallet_id,
        "session_id": session_id,
        "type": "PAYMENT",
        "status": "SUBMITTED",
        "to_address": str(pay_to),
        "amount": str(PRICE),
        "created_at": now,
        "updated_at": now,
        "tier": "INSTANT",
        "payment_url": "https://shop.example/report",
        "payment_origin": "https://shop.example",
        "payment_network": "solana-devnet",
        "signature": prepared.signature,
        "raw": prepared.raw,
        "payment_blockhash": str(blockhash),
        **tokens.columns(token),
    }
    tx = await state.db.insert_send(record)
    unsigned = VersionedTransaction.from_bytes(prepared.raw)
    own = fee_payer.sign_message(to_bytes_versioned(unsigned.message))
    cosigned = VersionedTransaction.populate(unsigned.message, [own, unsigned.signatures[1]])
    return tx.id, cosigned


async def test_a_payment_without_a_receipt_settles_from_the_payers_token_account(tmp_path):
    node = FakeSolanaNode()
    async with node_server(node) as server, _daemon(tmp_path, server.url) as (state, http):
        wallet = (await http.post("/v1/wallets", json={"name": "agent"}, headers=MASTER)).json()
        session = (
            await http.post("/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER)
        ).json()
        agent = {"Authorization": f"Bearer {session['token']}"}
        authority, fee_payer, merchant = Keypair(), Keypair(), Keypair().pubkey()
        mint = node.create_mint(authority, 6)
        owner = Pubkey.from_string(wallet["address"])
        node.fund(owner, SOL)
        node.fund(fee_payer.pubkey(), SOL)
        node.mint_to(authority, owner, mint, 10 * PRICE)
        node.mint_to(authority, merchant, mint, 1)  # payTo's token account exists
        added = await http.post(
            "/v1/tokens", json={"network": "devnet", "mint": mint, "symbol": "TST"}, headers=MASTER
        )
        assert added.status_code == 201, added.text

        paid, paid_tx = await _signed_payment(
            state, wallet["id"], session["id"], mint, merchant, fee_payer
        )
        unpaid, _ = await _signed_payment(
            state, wallet["id"], session["id"], mint, merchant, fee_payer
        )
        settled = node.land_versioned(paid_tx)  # the facilitator's id, unknown to the daemon

        # Read by the agent: the chain is asked, the settlement found.
        read = (await http.get(f"/v1/transactions/{paid}", headers=agent)).json()
        assert (read["status"], read["settlement"]) == ("CONFIRMED", settled), read
        # Not landed, its blockhash still valid: it may still land, so it stays SUBMITTED.
        await settlement.reconcile(state)
        record = await state.db.get_transaction(unpaid)
        assert record is not None and record.status == "SUBMITTED"
        # Its blockhash expired and no transaction carries it: it never will.
        node.expire_blockhashes()
        await settlement.reconcile(state)
        record = await state.db.get_transaction(unpaid)
        assert record is not None and record.status == "FAILED", record
        assert "blockhash expired" in (record.error or "")
        audit = (await http.get("/v1/audit", params={"limit": 100}, headers=MASTER)).json()
        outcomes = {(e["action"], e["transactionId"]) for e in audit["items"]}
        assert {("send.confirmed", paid), ("send.failed", unpaid)} <= outcomes


async def test_a_node_that_cannot_answer_leaves_the_payment_submitted(tmp_path):
    from tests.daemon.fake_rpc_node import RpcFault

    node = FakeSolanaNode()
    async with node_server(node) as server, _daemon(tmp_path, server.url) as (state, http):
        wallet = (await http.post("/v1/wallets", json={"name": "agent"}, headers=MASTER)).json()
        session = (
            await http.post("/v1/sessions", json={"walletId": wallet["id"]}, headers=MASTER)
        ).json()
        authority, fee_payer, merchant = Keypair(), Keypair(), Keypair().pubkey()
        mint = node.create_mint(authority, 6)
        owner = Pubkey.from_string(wallet["address"])
        node.mint_to(authority, owner, mint, 10 * PRICE)
        added = await http.post(
            "/v1/tokens", json={"network": "devnet", "mint": mint, "symbol": "TST"}, headers=MASTER
        )
        assert added.status_code == 201, added.text
        tx_id, _ = await _signed_payment(
            state, wallet["id"], session["id"], mint, merchant, fee_payer
        )
        node.expire_blockhashes()
        node.fail("getSignaturesForAddress", RpcFault(-32601, "Method not found"))
        await settlement.reconcile(state)
        record = await state.db.get_transaction(tx_id)
        assert record is not None and record.status == "SUBMITTED"
