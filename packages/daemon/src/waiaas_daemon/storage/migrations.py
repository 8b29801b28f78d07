"""The schema, as forward migrations; PRAGMA user_version counts the ones applied.

A migration is never edited once released: a change is a new entry at the end.
"""

from __future__ import annotations

import aiosqlite

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    CREATE TABLE wallets (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        chain TEXT NOT NULL,
        network TEXT NOT NULL,
        address TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        key_ciphertext BLOB NOT NULL,
        key_nonce BLOB NOT NULL,
        key_salt BLOB NOT NULL,
        kdf TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        wallet_id TEXT NOT NULL REFERENCES wallets(id),
        label TEXT,
        token_hash TEXT NOT NULL,
        prev_token_hash TEXT,
        prev_valid_until REAL,
        ttl INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        renewal_count INTEGER NOT NULL DEFAULT 0,
        constraints TEXT,
        created_at INTEGER NOT NULL,
        last_renewed_at INTEGER,
        revoked_at INTEGER
    );
    CREATE INDEX sessions_by_wallet ON sessions(wallet_id, revoked_at, expires_at);
    CREATE TABLE transactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        wallet_id TEXT NOT NULL REFERENCES wallets(id),
        session_id TEXT,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        to_address TEXT,
        amount TEXT NOT NULL,
        memo TEXT,
        signature TEXT,
        raw BLOB,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX transactions_by_wallet ON transactions(wallet_id, seq);
    CREATE TABLE ledger_accounts (
        address TEXT PRIMARY KEY,
        lamports INTEGER NOT NULL,
        data BLOB NOT NULL,
        owner TEXT NOT NULL,
        executable INTEGER NOT NULL,
        rent_epoch INTEGER NOT NULL
    );
    """,
    # 2: the daily limit sums a wallet's recent transfers.
    """
    CREATE INDEX transactions_by_wallet_time ON transactions(wallet_id, type, created_at);
    """,
    # 3: the master password lockout outlives a restart (SPEC 4).
    """
    CREATE TABLE master_lockout (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failures TEXT NOT NULL,
        locked_until REAL NOT NULL
    );
    """,
)


class SchemaTooNew(Exception):
    """The database was written by a newer daemon; this one must not touch it."""


async def migrate(conn: aiosqlite.Connection) -> None:
    """Apply the migrations this database lacks, each in its own transaction."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > len(MIGRATIONS):
        raise SchemaTooNew(
            f"the database schema is version {version}, newer than this daemon knows "
            f"({len(MIGRATIONS)}); upgrade waiaas-daemon"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;"
        )
