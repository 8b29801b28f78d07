"""The token registry (SPEC 14): symbols to mints per network, and the local test mint.

Built-in entries come with the migration that made the table; the owner adds
others (``register``). On ``local`` the daemon creates the test mint ``USDC``
at first start, its mint authority sealed with the keystore like a wallet key,
and hands the authority back to the chain at every later start, so token
airdrops work across restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from solders.keypair import Keypair

from waiaas_core.errors import WaiaasError
from waiaas_core.networks import looks_evm
from waiaas_daemon.chain.base import parse_address
from waiaas_daemon.chain.interface import Chain
from waiaas_daemon.chain.local import LocalChain
from waiaas_daemon.domain.keystore import KeyStore, SealedKey
from waiaas_daemon.storage import Storage, TokenRow, TransactionRow

log = logging.getLogger("waiaas_daemon.domain.tokens")

TEST_SYMBOL = "USDC"
TEST_DECIMALS = 6


@dataclass(frozen=True)
class Token:
    """A mint a send or an airdrop moves: what the record keeps and the chain needs."""

    mint: str
    symbol: str | None
    decimals: int
    program: str

    @property
    def label(self) -> str:
        return self.symbol or self.mint


def columns(token: Token | None) -> dict[str, object]:
    """The transaction row's token columns (all NULL for SOL)."""
    if token is None:
        return {}
    return {
        "token_mint": token.mint,
        "token_symbol": token.symbol,
        "token_decimals": token.decimals,
        "token_program": token.program,
    }


def of_transaction(tx: TransactionRow) -> Token | None:
    if tx.token_mint is None:
        return None
    assert tx.token_decimals is not None and tx.token_program is not None
    return Token(tx.token_mint, tx.token_symbol, tx.token_decimals, tx.token_program)


def _authority_aad(mint: str) -> str:
    # The keystore binds a sealed key to an id; a mint authority's is its mint.
    return f"mint-authority:{mint}"


async def ensure_local_test_mint(
    db: Storage, chain: LocalChain, keystore: KeyStore, now: int
) -> str:
    """Hold every sealed local mint authority; create the test mint on the first start.

    The mint's accounts and its registry row are saved in one database
    transaction: a crash before it leaves neither, and the next start creates
    the mint again.
    """
    held = [t for t in await db.list_tokens("local") if t.authority_ciphertext is not None]
    for token in held:
        chain.hold_mint_authority(bytes(keystore.open(_sealed(token), _authority_aad(token.mint))))
    test = next((t for t in held if t.symbol == TEST_SYMBOL), None)
    if test is not None:
        return test.mint
    created = await chain.create_mint(TEST_DECIMALS)
    if created.outcome.status != "CONFIRMED":
        raise RuntimeError(f"the local test mint could not be created: {created.outcome.error}")
    sealed = keystore.seal(
        Keypair.from_bytes(created.authority_secret), _authority_aad(created.mint)
    )
    info = await chain.mint_info(created.mint)
    await db.insert_token(
        TokenRow(
            network="local",
            mint=created.mint,
            symbol=TEST_SYMBOL,
            decimals=info.decimals,
            program=info.program,
            builtin=True,
            created_at=now,
            authority_ciphertext=sealed.ciphertext,
            authority_nonce=sealed.nonce,
            authority_salt=sealed.salt,
            authority_kdf=sealed.kdf,
        ),
        created.outcome.accounts,
    )
    log.info("created the local test mint %s (%s)", TEST_SYMBOL, created.mint)
    return created.mint


def _sealed(token: TokenRow) -> SealedKey:
    assert token.authority_ciphertext is not None
    assert token.authority_nonce is not None and token.authority_salt is not None
    assert token.authority_kdf is not None
    return SealedKey(
        token.authority_ciphertext, token.authority_nonce, token.authority_salt, token.authority_kdf
    )


def is_mint_address(ref: str) -> bool:
    """A token's address of either family: a Solana mint or an ERC-20 contract."""
    if looks_evm(ref):
        return True
    try:
        parse_address(ref)
    except WaiaasError:
        return False
    return True


async def find(db: Storage, network: str, ref: str) -> TokenRow | None:
    """A registry entry by symbol (any case) or by mint address."""
    row = await db.find_token_by_symbol(network, ref)
    if row is None and is_mint_address(ref):
        row = await db.get_token(network, ref)
    return row


def not_found(network: str, ref: str) -> WaiaasError:
    return WaiaasError(
        "TOKEN_NOT_FOUND",
        f"token: {ref!r} is no symbol in the {network} registry (GET /v1/tokens) "
        "and no mint address.",
    )


def unsupported(mint: str, extensions: tuple[str, ...]) -> WaiaasError:
    return WaiaasError(
        "UNSUPPORTED_TOKEN",
        f"token: the mint {mint} has the Token-2022 extension(s) {', '.join(extensions)}, "
        "which waiaas does not send.",
    )


async def resolve(db: Storage, chain: Chain, network: str, ref: str) -> Token:
    """A send's or airdrop's ``token``: registry symbol or mint, read from the chain.

    TOKEN_NOT_FOUND for neither a symbol nor a mint; UNSUPPORTED_TOKEN for a
    Token-2022 mint with a transfer fee, a transfer hook or confidential transfers.
    The chain is asked every time: decimals and program come from the mint itself.
    """
    row = await find(db, network, ref)
    if row is None and not is_mint_address(ref):
        raise not_found(network, ref)
    mint = row.mint if row is not None else ref
    info = await chain.mint_info(mint)
    if info.unsupported:
        raise unsupported(mint, info.unsupported)
    # An ERC-20 answers its own symbol; the registry's name wins where there is one.
    symbol = row.symbol if row is not None else info.symbol
    return Token(info.mint, symbol, info.decimals, info.program)
