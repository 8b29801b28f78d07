"""LocalChain and SPL tokens: test mints, airdrops of them, transfers, extensions, persistence."""

from __future__ import annotations

import struct

import pytest
from solders.keypair import Keypair
from solders.transaction import Transaction

from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import (
    TOKEN_2022_PROGRAM,
    TOKEN_PROGRAM,
    AccountSnapshot,
    Outcome,
    PreparedTransfer,
    TokenBalance,
)
from waiaas_daemon.chain.local import LocalChain

pytestmark = pytest.mark.anyio

SOL = 1_000_000_000
USDC = 1_000_000  # one whole token of 6 decimals
FEE = 5000


def addr(keypair: Keypair) -> str:
    return str(keypair.pubkey())


async def funded(chain: LocalChain, lamports: int = SOL) -> Keypair:
    keypair = Keypair()
    assert (await chain.airdrop(addr(keypair), lamports)).status == "CONFIRMED"
    return keypair


async def send_token(
    chain: LocalChain,
    signer: Keypair,
    to: str,
    mint: str,
    amount: int,
    memo: str | None = None,
) -> Outcome:
    info = await chain.mint_info(mint)
    prepared = await chain.prepare_token_transfer(
        signer, to, mint, amount, info.decimals, info.program, memo
    )
    outcome = await chain.submit(prepared)
    assert outcome.signature == prepared.signature
    return outcome


async def usdc_holder(chain: LocalChain, program: str = TOKEN_PROGRAM) -> tuple[str, Keypair]:
    """A 6-decimal mint and a wallet with 1 SOL and 100 of the token."""
    created = await chain.create_mint(6, program=program)
    assert created.outcome.status == "CONFIRMED", created.outcome.error
    holder = await funded(chain)
    assert (await chain.mint_to(addr(holder), created.mint, 100 * USDC)).status == "CONFIRMED"
    return created.mint, holder


async def test_created_mint_has_its_decimals_and_an_authority_the_daemon_was_handed() -> None:
    chain = LocalChain()

    created = await chain.create_mint(6)

    info = await chain.mint_info(created.mint)
    authority = Keypair.from_bytes(created.authority_secret)
    assert (info.decimals, info.program, info.supply) == (6, TOKEN_PROGRAM, 0)
    assert info.mint_authority == addr(authority)
    assert info.extensions == () and info.unsupported == ()
    snapped = {snap.address for snap in created.outcome.accounts}
    assert snapped == {created.mint, addr(authority)}


async def test_mint_to_creates_the_owners_token_account_without_spending_the_owners_sol() -> None:
    chain = LocalChain()
    created = await chain.create_mint(6)
    owner = await funded(chain)

    outcome = await chain.mint_to(addr(owner), created.mint, 25 * USDC)

    assert outcome.status == "CONFIRMED", outcome.error
    ata = str(spl.associated_address(addr(owner), created.mint, TOKEN_PROGRAM))
    assert await chain.token_accounts(addr(owner)) == [
        TokenBalance(ata, created.mint, 25 * USDC, 6, TOKEN_PROGRAM)
    ]
    assert await chain.get_balance(addr(owner)) == SOL
    assert ata in {snap.address for snap in outcome.accounts}
    assert (await chain.mint_info(created.mint)).supply == 25 * USDC


async def test_a_second_mint_to_adds_to_the_same_token_account() -> None:
    chain = LocalChain()
    mint, holder = await usdc_holder(chain)

    assert (await chain.mint_to(addr(holder), mint, 5)).status == "CONFIRMED"

    balances = await chain.token_accounts(addr(holder))
    assert [balance.amount for balance in balances] == [100 * USDC + 5]


async def test_mint_to_without_the_held_authority_is_refused() -> None:
    chain = LocalChain()
    created = await chain.create_mint(6)
    other = LocalChain([snap for snap in created.outcome.accounts if snap.address == created.mint])

    with pytest.raises(WaiaasError) as caught:
        await other.mint_to(addr(Keypair()), created.mint, 1)

    assert caught.value.code == "INVALID_REQUEST"
    assert "mint authority" in caught.value.message


async def test_transfer_to_an_owner_without_a_token_account_creates_it_for_fee_plus_rent() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = Keypair()
    rent = chain.rent_exempt_minimum(165)
    assert rent == 2_039_280

    cost = await chain.token_transfer_cost(addr(recipient), mint, TOKEN_PROGRAM)
    outcome = await send_token(chain, sender, addr(recipient), mint, 12_500_000, memo="invoice 7")

    assert outcome.status == "CONFIRMED", outcome.error
    assert (cost.fee, cost.rent, cost.lamports) == (FEE, rent, FEE + rent)
    assert await chain.get_balance(addr(sender)) == SOL - FEE - rent
    assert await chain.token_balance(addr(sender), mint, TOKEN_PROGRAM) == 87_500_000
    assert await chain.token_balance(addr(recipient), mint, TOKEN_PROGRAM) == 12_500_000
    assert await chain.get_balance(addr(recipient)) == 0  # the rent sits in its token account
    assert await chain.get_balance(cost.recipient_account) == rent
    snapped = {snap.address for snap in outcome.accounts}
    sender_ata = str(spl.associated_address(addr(sender), mint, TOKEN_PROGRAM))
    assert snapped == {addr(sender), sender_ata, cost.recipient_account}


async def test_a_second_transfer_to_the_same_owner_creates_no_account_and_costs_only_the_fee() -> (
    None
):
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = Keypair()
    assert (await send_token(chain, sender, addr(recipient), mint, USDC)).status == "CONFIRMED"
    sol_before = await chain.get_balance(addr(sender))

    cost = await chain.token_transfer_cost(addr(recipient), mint, TOKEN_PROGRAM)
    outcome = await send_token(chain, sender, addr(recipient), mint, USDC)

    assert outcome.status == "CONFIRMED"
    assert (cost.fee, cost.rent) == (FEE, 0)
    assert await chain.get_balance(addr(sender)) == sol_before - FEE
    assert await chain.token_balance(addr(recipient), mint, TOKEN_PROGRAM) == 2 * USDC
    assert len(await chain.token_accounts(addr(recipient))) == 1


async def test_two_identical_token_transfers_are_two_transactions() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = addr(Keypair())

    first = await send_token(chain, sender, recipient, mint, USDC)
    second = await send_token(chain, sender, recipient, mint, USDC)

    assert first.signature != second.signature
    assert await chain.token_balance(recipient, mint, TOKEN_PROGRAM) == 2 * USDC


async def test_token_2022_plain_mint_transfers_and_its_new_account_rent_is_predicted() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain, TOKEN_2022_PROGRAM)
    recipient = Keypair()
    info = await chain.mint_info(mint)
    sol_before = await chain.get_balance(addr(sender))

    cost = await chain.token_transfer_cost(addr(recipient), mint, TOKEN_2022_PROGRAM)
    outcome = await send_token(chain, sender, addr(recipient), mint, 3 * USDC)

    assert outcome.status == "CONFIRMED", outcome.error
    assert (info.program, info.unsupported) == (TOKEN_2022_PROGRAM, ())
    # An ATA of Token-2022 carries ImmutableOwner: 170 bytes, not 165.
    assert cost.rent == chain.rent_exempt_minimum(170)
    assert await chain.get_balance(cost.recipient_account) == cost.rent
    assert await chain.get_balance(addr(sender)) == sol_before - cost.lamports
    balances = await chain.token_accounts(addr(recipient))
    assert [(b.mint, b.amount, b.decimals, b.program) for b in balances] == [
        (mint, 3 * USDC, 6, TOKEN_2022_PROGRAM)
    ]


async def test_a_transfer_fee_mint_is_flagged_unsupported() -> None:
    chain = LocalChain()

    created = await chain.create_mint(6, program=TOKEN_2022_PROGRAM, transfer_fee=(50, 10_000))

    assert created.outcome.status == "CONFIRMED", created.outcome.error
    info = await chain.mint_info(created.mint)
    assert info.extensions == ("TransferFeeConfig",)
    assert info.unsupported == ("TransferFeeConfig",)
    assert info.decimals == 6


async def test_token_shortfall_fails_on_chain_and_moves_no_token() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = addr(Keypair())

    outcome = await send_token(chain, sender, recipient, mint, 100 * USDC + 1)

    assert outcome.status == "FAILED"
    assert "custom program error: 0x1" in (outcome.error or "")  # TokenError::InsufficientFunds
    assert await chain.token_balance(addr(sender), mint, TOKEN_PROGRAM) == 100 * USDC
    assert await chain.token_balance(recipient, mint, TOKEN_PROGRAM) == 0
    assert await chain.get_balance(addr(sender)) == SOL - FEE  # the fee is still paid


async def test_a_sender_with_no_token_account_has_a_token_balance_of_zero() -> None:
    chain = LocalChain()
    mint, _ = await usdc_holder(chain)

    assert await chain.token_balance(addr(Keypair()), mint, TOKEN_PROGRAM) == 0
    assert await chain.token_accounts(addr(Keypair())) == []


async def test_snapshots_restore_mints_and_token_balances_in_a_new_runtime() -> None:
    chain = LocalChain()
    created = await chain.create_mint(6)
    holder = await funded(chain)
    saved: list[Outcome] = [created.outcome]
    saved.append(await chain.airdrop(addr(holder), SOL))
    saved.append(await chain.mint_to(addr(holder), created.mint, 40 * USDC))
    recipient = addr(Keypair())
    saved.append(await send_token(chain, holder, recipient, created.mint, 15 * USDC))
    latest: dict[str, AccountSnapshot] = {
        snap.address: snap for outcome in saved for snap in outcome.accounts
    }

    restarted = LocalChain(latest.values())
    restarted.hold_mint_authority(created.authority_secret)

    assert await restarted.token_accounts(addr(holder)) == await chain.token_accounts(addr(holder))
    assert await restarted.token_balance(recipient, created.mint, TOKEN_PROGRAM) == 15 * USDC
    assert await restarted.mint_info(created.mint) == await chain.mint_info(created.mint)
    assert (await restarted.mint_to(recipient, created.mint, 1)).status == "CONFIRMED"
    outcome = await send_token(restarted, holder, recipient, created.mint, 5 * USDC)
    assert outcome.status == "CONFIRMED", outcome.error
    assert await restarted.token_balance(addr(holder), created.mint, TOKEN_PROGRAM) == 20 * USDC


async def test_mint_info_of_an_address_without_a_mint_is_token_not_found() -> None:
    chain = LocalChain()
    wallet = await funded(chain)

    for address in (addr(Keypair()), addr(wallet)):
        with pytest.raises(WaiaasError) as caught:
            await chain.mint_info(address)
        assert caught.value.code == "TOKEN_NOT_FOUND"
    with pytest.raises(WaiaasError) as malformed:
        await chain.mint_info("not-an-address")
    assert malformed.value.code == "INVALID_ADDRESS"


async def test_a_token_account_is_not_taken_for_a_mint() -> None:
    chain = LocalChain()
    mint, holder = await usdc_holder(chain)
    ata = str(spl.associated_address(addr(holder), mint, TOKEN_PROGRAM))

    with pytest.raises(WaiaasError) as caught:
        await chain.mint_info(ata)

    assert caught.value.code == "TOKEN_NOT_FOUND"


async def test_token_transfer_with_too_long_a_memo_is_refused_before_signing() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)

    with pytest.raises(WaiaasError) as caught:
        await send_token(chain, sender, addr(Keypair()), mint, 1, memo="x" * 1200)

    assert caught.value.code == "INVALID_REQUEST" and "memo" in caught.value.message


def _mint_with_extensions(*entries: tuple[int, bytes]) -> bytes:
    base = bytearray(82)
    base[44] = 6  # decimals
    base[45] = 1  # is_initialized
    data = bytes(base) + bytes(165 - 82) + bytes([1])
    for kind, value in entries:
        data += struct.pack("<HH", kind, len(value)) + value
    return data


def test_transfer_hook_and_confidential_transfer_mints_are_unsupported() -> None:
    hook = _mint_with_extensions((18, bytes(64)), (14, bytes(64)))
    confidential = _mint_with_extensions((4, bytes(65)))
    pointer_only = _mint_with_extensions((18, bytes(64)), (3, bytes(32)))

    parsed = [spl.parse_mint("m", TOKEN_2022_PROGRAM, data) for data in (hook, confidential)]
    plain = spl.parse_mint("m", TOKEN_2022_PROGRAM, pointer_only)

    assert [info.unsupported for info in parsed if info] == [
        ("TransferHook",),
        ("ConfidentialTransferMint",),
    ]
    assert plain is not None and plain.unsupported == ()
    assert plain.extensions == ("MetadataPointer", "MintCloseAuthority")


def test_extensions_are_not_read_from_spl_token_or_from_truncated_entries() -> None:
    hook = _mint_with_extensions((14, bytes(64)))

    assert spl.parse_mint("m", TOKEN_PROGRAM, hook) is None
    assert spl.parse_mint("m", TOKEN_2022_PROGRAM, hook[:-1]) is None
    assert spl.parse_mint("m", "11111111111111111111111111111111", hook[:82]) is None


@pytest.mark.parametrize(
    ("program", "transfer_fee"),
    [(TOKEN_PROGRAM, None), (TOKEN_2022_PROGRAM, None), (TOKEN_2022_PROGRAM, (50, 10_000))],
    ids=["spl-token", "token-2022", "token-2022-transfer-fee"],
)
async def test_the_predicted_size_of_a_new_token_account_is_the_size_the_chain_makes(
    program: str, transfer_fee: tuple[int, int] | None
) -> None:
    chain = LocalChain()
    created = await chain.create_mint(6, program=program, transfer_fee=transfer_fee)
    owner = addr(Keypair())

    assert (await chain.mint_to(owner, created.mint, 1)).status == "CONFIRMED"

    made = chain.snapshot(spl.associated_address(owner, created.mint, program))
    predicted = spl.associated_account_size(await chain.mint_info(created.mint))
    assert len(made.data) == predicted
    assert made.lamports == chain.rent_exempt_minimum(predicted)


async def test_a_new_account_transfer_is_create_idempotent_then_transfer_checked_then_memo() -> (
    None
):
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    info = await chain.mint_info(mint)

    prepared = await chain.prepare_token_transfer(
        sender, addr(Keypair()), mint, 1, info.decimals, info.program, "hi"
    )

    message = Transaction.from_bytes(prepared.raw).message
    programs = [str(message.account_keys[ix.program_id_index]) for ix in message.instructions]
    assert programs == [
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
        TOKEN_PROGRAM,
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
    ]
    create, transfer, memo = (bytes(ix.data) for ix in message.instructions)
    assert create == bytes([1])  # CreateIdempotent
    assert transfer == bytes([12]) + (1).to_bytes(8, "little") + bytes([6])  # TransferChecked
    assert memo == b"hi"


async def test_a_transfer_with_the_wrong_decimals_is_refused_by_the_token_program() -> None:
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = addr(Keypair())

    prepared = await chain.prepare_token_transfer(
        sender, recipient, mint, USDC, 9, TOKEN_PROGRAM, None
    )
    outcome = await chain.submit(prepared)

    assert outcome.status == "FAILED"
    assert "custom program error: 0x12" in (outcome.error or "")  # MintDecimalsMismatch
    assert await chain.token_balance(recipient, mint, TOKEN_PROGRAM) == 0


async def test_a_sender_with_the_fee_but_not_the_rent_cannot_open_the_recipients_account() -> None:
    chain = LocalChain()
    created = await chain.create_mint(6)
    sender = await funded(chain, chain.rent_exempt_minimum() + FEE + 1_000_000)
    assert (await chain.mint_to(addr(sender), created.mint, USDC)).status == "CONFIRMED"
    recipient = addr(Keypair())

    cost = await chain.token_transfer_cost(recipient, created.mint, TOKEN_PROGRAM)
    sol = await chain.get_balance(addr(sender))
    outcome = await send_token(chain, sender, recipient, created.mint, USDC)

    assert sol < cost.lamports  # what the daemon refuses up front as INSUFFICIENT_BALANCE
    assert outcome.status == "FAILED"
    assert await chain.token_balance(addr(sender), created.mint, TOKEN_PROGRAM) == USDC


async def test_a_second_mint_can_share_a_held_authority_and_a_bad_secret_is_refused() -> None:
    chain = LocalChain()
    first = await chain.create_mint(6)

    second = await chain.create_mint(2, authority_secret=first.authority_secret)

    assert second.outcome.status == "CONFIRMED"
    assert (await chain.mint_info(second.mint)).mint_authority == (
        await chain.mint_info(first.mint)
    ).mint_authority
    with pytest.raises(WaiaasError) as caught:
        await chain.create_mint(6, authority_secret=b"short")
    assert caught.value.code == "INVALID_REQUEST"
    assert "short" not in caught.value.message


async def test_a_token_account_or_a_mint_as_recipient_is_an_invalid_address() -> None:
    chain = LocalChain()
    mint, holder = await usdc_holder(chain)
    ata = str(spl.associated_address(addr(holder), mint, TOKEN_PROGRAM))

    for recipient in (ata, mint):
        with pytest.raises(WaiaasError) as caught:
            await chain.token_transfer_cost(recipient, mint, TOKEN_PROGRAM)
        assert caught.value.code == "INVALID_ADDRESS"
        assert "wallet address" in caught.value.message


async def test_a_token_transfer_submitted_again_is_answered_from_the_first_run_and_moves_once() -> (
    None
):
    chain = LocalChain()
    mint, sender = await usdc_holder(chain)
    recipient = addr(Keypair())
    prepared = await chain.prepare_token_transfer(
        sender, recipient, mint, USDC, 6, TOKEN_PROGRAM, None
    )
    first = await chain.submit(prepared)

    again = await chain.submit(PreparedTransfer(prepared.signature, prepared.raw))

    assert (first.status, again.status) == ("CONFIRMED", "CONFIRMED")
    assert await chain.token_balance(recipient, mint, TOKEN_PROGRAM) == USDC
    assert {s.address: s for s in again.accounts} == {s.address: s for s in first.accounts}
