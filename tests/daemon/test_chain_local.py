"""LocalChain: LiteSVM's fees and rent rules, snapshots, restore and signatures."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.signature import Signature
from solders.transaction import Transaction

from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain.base import MEMO_PROGRAM_ID, AccountSnapshot, Outcome
from waiaas_daemon.chain.local import RECENT_BLOCKHASHES, LocalChain

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000


def addr(keypair: Keypair) -> str:
    return str(keypair.pubkey())


async def funded(chain: LocalChain, lamports: int = SOL) -> Keypair:
    keypair = Keypair()
    outcome = await chain.airdrop(addr(keypair), lamports)
    assert outcome.status == "CONFIRMED"
    return keypair


async def send(
    chain: LocalChain, signer: Keypair, to: str, amount: int, memo: str | None = None
) -> Outcome:
    prepared = await chain.prepare_transfer(signer, to, amount, memo)
    outcome = await chain.submit(prepared)
    assert outcome.signature == prepared.signature
    return outcome


def latest(outcomes: list[Outcome]) -> dict[str, AccountSnapshot]:
    """What the daemon's database would hold: the last snapshot of each address."""
    return {snap.address: snap for outcome in outcomes for snap in outcome.accounts}


async def test_transfer_moves_amount_to_recipient_and_amount_plus_fee_out_of_sender() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()
    amount = SOL // 10

    outcome = await send(chain, sender, addr(recipient), amount)

    fee = await chain.transfer_fee()
    assert fee == 5000
    assert outcome.status == "CONFIRMED" and outcome.error is None
    assert await chain.get_balance(addr(recipient)) == amount
    assert await chain.get_balance(addr(sender)) == SOL - amount - fee


async def test_transfer_outcome_snapshots_sender_and_recipient() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()

    outcome = await send(chain, sender, addr(recipient), SOL // 10)

    snaps = {snap.address: snap for snap in outcome.accounts}
    assert set(snaps) == {addr(sender), addr(recipient)}
    for address, snap in snaps.items():
        assert snap.lamports == await chain.get_balance(address)
        assert snap.owner == "11111111111111111111111111111111"
        assert snap.data == b"" and snap.executable is False


async def test_airdrop_credits_recipient_and_snapshots_it() -> None:
    chain = LocalChain()
    recipient = Keypair()

    outcome = await chain.airdrop(addr(recipient), 2 * SOL)

    assert outcome.status == "CONFIRMED"
    assert Signature.from_string(outcome.signature) != Signature.default()
    assert [(s.address, s.lamports) for s in outcome.accounts] == [(addr(recipient), 2 * SOL)]
    assert await chain.get_balance(addr(recipient)) == 2 * SOL


async def test_airdrop_below_rent_exempt_minimum_fails() -> None:
    chain = LocalChain()
    recipient = Keypair()

    outcome = await chain.airdrop(addr(recipient), chain.rent_exempt_minimum() - 1)

    assert outcome.status == "FAILED"
    assert "insufficient funds for rent" in (outcome.error or "")
    assert await chain.get_balance(addr(recipient)) == 0


async def test_transfer_leaving_new_account_below_rent_minimum_fails_and_still_costs_the_fee() -> (
    None
):
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()
    minimum = chain.rent_exempt_minimum()
    assert minimum == 890_880

    outcome = await send(chain, sender, addr(recipient), minimum - 1)

    assert outcome.status == "FAILED"
    assert "insufficient funds for rent" in (outcome.error or "")
    fee = await chain.transfer_fee()
    assert await chain.get_balance(addr(sender)) == SOL - fee
    assert await chain.get_balance(addr(recipient)) == 0
    snaps = {snap.address: snap.lamports for snap in outcome.accounts}
    assert snaps == {addr(sender): SOL - fee, addr(recipient): 0}


async def test_transfer_of_exactly_the_rent_exempt_minimum_succeeds() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()

    outcome = await send(chain, sender, addr(recipient), chain.rent_exempt_minimum())

    assert outcome.status == "CONFIRMED"
    assert await chain.get_balance(addr(recipient)) == chain.rent_exempt_minimum()


async def test_two_identical_sends_are_two_transfers() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()

    first = await send(chain, sender, addr(recipient), SOL // 10, "rent")
    second = await send(chain, sender, addr(recipient), SOL // 10, "rent")

    assert first.status == second.status == "CONFIRMED"
    assert first.signature != second.signature
    assert await chain.get_balance(addr(recipient)) == 2 * (SOL // 10)


async def test_identical_sends_prepared_before_either_is_submitted_both_land() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()
    one = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
    two = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)

    assert one.signature != two.signature
    assert (await chain.submit(two)).status == "CONFIRMED"
    assert (await chain.submit(one)).status == "CONFIRMED"
    assert await chain.get_balance(addr(recipient)) == 2 * (SOL // 10)


async def test_resubmitting_a_transaction_answers_its_first_outcome_and_pays_once() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()
    prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)

    first = await chain.submit(prepared)
    again = await chain.submit(prepared)

    assert first.status == again.status == "CONFIRMED"
    assert again.signature == first.signature
    assert await chain.get_balance(addr(recipient)) == SOL // 10
    assert await chain.get_balance(addr(sender)) == SOL - SOL // 10 - 5000


async def test_transfer_with_a_blockhash_older_than_the_window_fails() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()
    prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, None)
    for _ in range(RECENT_BLOCKHASHES):
        await chain.airdrop(addr(Keypair()), SOL)

    outcome = await chain.submit(prepared)

    assert outcome.status == "FAILED"
    assert outcome.error == "Blockhash not found"
    assert await chain.get_balance(addr(sender)) == SOL
    assert await chain.status(prepared.signature) is None


async def test_sending_more_than_the_balance_fails_with_the_chain_reason_and_costs_the_fee() -> (
    None
):
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()

    outcome = await send(chain, sender, addr(recipient), 2 * SOL)

    assert outcome.status == "FAILED"
    assert "insufficient lamports" in (outcome.error or "")
    assert "custom program error: 0x1" in (outcome.error or "")
    assert await chain.get_balance(addr(sender)) == SOL - 5000
    assert await chain.get_balance(addr(recipient)) == 0


async def test_sending_from_an_unfunded_account_fails_without_a_fee_and_leaves_no_trace() -> None:
    chain = LocalChain()
    sender, recipient = Keypair(), Keypair()

    outcome = await send(chain, sender, addr(recipient), SOL)

    assert outcome.status == "FAILED"
    assert "no record of a prior credit" in (outcome.error or "")
    assert await chain.get_balance(addr(sender)) == 0
    assert await chain.status(outcome.signature) is None


async def test_restored_chain_has_the_same_balances_and_keeps_working() -> None:
    chain = LocalChain()
    alice, bob, carol = await funded(chain, 3 * SOL), Keypair(), Keypair()
    outcomes = [
        await chain.airdrop(addr(alice), 3 * SOL),
        await send(chain, alice, addr(bob), SOL),
        await send(chain, alice, addr(carol), 1),  # fails: carol below rent, alice pays the fee
    ]
    saved = latest(outcomes)

    restored = LocalChain(saved.values())

    for who in (alice, bob, carol):
        assert await restored.get_balance(addr(who)) == await chain.get_balance(addr(who))
    assert await restored.get_balance(addr(alice)) == 6 * SOL - SOL - 2 * 5000
    assert (await send(restored, bob, addr(alice), SOL // 2)).status == "CONFIRMED"
    assert await restored.get_balance(addr(bob)) == SOL // 2 - 5000


def wallet_snapshot(keypair: Keypair, lamports: int) -> AccountSnapshot:
    system = "11111111111111111111111111111111"
    return AccountSnapshot(addr(keypair), lamports, b"", system, False, 0)


async def test_identical_first_sends_of_two_runs_have_different_signatures() -> None:
    alice, bob = Keypair(), Keypair()
    saved = [wallet_snapshot(alice, SOL)]

    one = await LocalChain(saved).prepare_transfer(alice, addr(bob), SOL // 10, None)
    two = await LocalChain(saved).prepare_transfer(alice, addr(bob), SOL // 10, None)

    assert one.signature != two.signature


async def test_a_transfer_signed_before_a_restart_is_refused_after_it() -> None:
    alice = Keypair()
    saved = [wallet_snapshot(alice, SOL)]
    prepared = await LocalChain(saved).prepare_transfer(alice, addr(Keypair()), SOL // 10, None)
    second_run = LocalChain(saved)

    outcome = await second_run.submit(prepared)

    assert outcome.status == "FAILED" and outcome.error == "Blockhash not found"
    assert await second_run.get_balance(addr(alice)) == SOL


async def test_restore_method_loads_snapshots_into_a_running_chain() -> None:
    chain = LocalChain()
    alice = await funded(chain, 5 * SOL)
    snapshot = chain.snapshot(addr(alice))

    other = LocalChain()
    other.restore([snapshot])

    assert await other.get_balance(addr(alice)) == 5 * SOL
    assert other.snapshot(addr(alice)) == snapshot


async def test_drained_account_is_snapshotted_empty_and_restores_empty() -> None:
    chain = LocalChain()
    alice, bob = Keypair(), Keypair()
    outcomes = [await chain.airdrop(addr(alice), SOL), await chain.airdrop(addr(bob), SOL)]
    outcomes.append(await send(chain, alice, addr(bob), SOL - 5000))

    assert {s.address: s.lamports for s in outcomes[-1].accounts}[addr(alice)] == 0
    # Every snapshot in the order it was taken: alice's funded one comes first.
    restored = LocalChain(snap for outcome in outcomes for snap in outcome.accounts)

    assert await restored.get_balance(addr(alice)) == 0
    assert await restored.get_balance(addr(bob)) == 2 * SOL - 5000


async def test_status_of_known_failed_and_unknown_signatures() -> None:
    chain = LocalChain()
    sender = await funded(chain)
    ok = await send(chain, sender, addr(Keypair()), SOL // 10)
    failed = await send(chain, sender, addr(Keypair()), 1)

    assert await chain.status(ok.signature) == Outcome(ok.signature, "CONFIRMED")
    seen = await chain.status(failed.signature)
    assert seen is not None and seen.status == "FAILED"
    assert seen.error == failed.error and "insufficient funds for rent" in (seen.error or "")
    assert await chain.status(str(Keypair().sign_message(b"never sent"))) is None
    assert await chain.status("not-a-signature") is None


async def test_memo_is_put_on_chain_through_the_spl_memo_program() -> None:
    chain = LocalChain()
    sender, recipient = await funded(chain), Keypair()

    prepared = await chain.prepare_transfer(sender, addr(recipient), SOL // 10, "invoice 42 ✓")
    outcome = await chain.submit(prepared)

    assert outcome.status == "CONFIRMED"
    message = Transaction.from_bytes(prepared.raw).message
    memo_ix = message.instructions[1]
    assert message.account_keys[memo_ix.program_id_index] == MEMO_PROGRAM_ID
    assert bytes(memo_ix.data) == "invoice 42 ✓".encode()


async def test_memo_too_long_for_a_transaction_is_refused() -> None:
    chain = LocalChain()
    sender = await funded(chain)

    with pytest.raises(WaiaasError) as caught:
        await chain.prepare_transfer(sender, addr(Keypair()), 1, "x" * 1100)

    assert caught.value.code == "INVALID_REQUEST"
    assert "memo" in caught.value.message


@pytest.mark.parametrize("amount", [0, -1, 2**64])
async def test_amount_outside_u64_range_is_refused(amount: int) -> None:
    chain = LocalChain()

    with pytest.raises(WaiaasError) as caught:
        await chain.prepare_transfer(Keypair(), addr(Keypair()), amount, None)

    assert caught.value.code == "INVALID_REQUEST"


async def test_largest_u64_amount_is_built_and_rejected_by_the_chain_not_by_us() -> None:
    chain = LocalChain()
    sender = await funded(chain)

    outcome = await send(chain, sender, addr(Keypair()), 2**64 - 1)

    assert outcome.status == "FAILED"
    assert "insufficient lamports" in (outcome.error or "")


@pytest.mark.parametrize("address", ["", "0OIl", "11111111111111111111111111111111111", "abc"])
async def test_invalid_addresses_are_refused(address: str) -> None:
    chain = LocalChain()

    for call in (
        lambda: chain.get_balance(address),
        lambda: chain.airdrop(address, SOL),
        lambda: chain.prepare_transfer(Keypair(), address, 1, None),
    ):
        with pytest.raises(WaiaasError) as caught:
            await call()
        assert caught.value.code == "INVALID_ADDRESS"


async def test_unknown_account_has_zero_balance() -> None:
    assert await LocalChain().get_balance(addr(Keypair())) == 0
