"""The schema, as forward migrations; PRAGMA user_version counts the ones applied.

A migration is never edited once released: a change is a new entry at the end.
"""

from __future__ import annotations

import aiosqlite

# SPEC 14: the token registry with its built-in entries, and the token a transfer moves.
TOKENS_SCHEMA = """
    CREATE TABLE tokens (
        network TEXT NOT NULL,
        mint TEXT NOT NULL,
        symbol TEXT NOT NULL,
        decimals INTEGER NOT NULL,
        program TEXT,
        builtin INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        -- The mint authority of a local test mint, sealed like a wallet key.
        authority_ciphertext BLOB,
        authority_nonce BLOB,
        authority_salt BLOB,
        authority_kdf TEXT,
        PRIMARY KEY (network, mint)
    );
    CREATE UNIQUE INDEX tokens_by_symbol ON tokens(network, upper(symbol));
    INSERT INTO tokens (network, mint, symbol, decimals, program, builtin, created_at) VALUES
        ('mainnet', 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v', 'USDC', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0),
        ('mainnet', 'Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB', 'USDT', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0),
        ('devnet', '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU', 'USDC', 6,
         'TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA', 1, 0);
    ALTER TABLE transactions ADD COLUMN token_mint TEXT;
    ALTER TABLE transactions ADD COLUMN token_symbol TEXT;
    ALTER TABLE transactions ADD COLUMN token_decimals INTEGER;
    ALTER TABLE transactions ADD COLUMN token_program TEXT;
"""

# The Telegram bot (docs/notes/telegram.md). One owner chat at most; link codes and
# prompt nonces are stored as SHA-256 hashes; the getUpdates offset survives a restart.
TELEGRAM_SCHEMA = """
CREATE TABLE telegram_owner (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    chat_id TEXT NOT NULL,
    name TEXT,
    linked_at INTEGER NOT NULL
);
CREATE TABLE telegram_link_codes (
    code_hash TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE telegram_prompts (
    nonce_hash TEXT PRIMARY KEY,
    event_id TEXT,
    transaction_id TEXT NOT NULL,
    chat_id TEXT NOT NULL,
    message_id INTEGER,
    text TEXT,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    closed_at INTEGER
);
CREATE INDEX telegram_prompts_by_tx ON telegram_prompts(transaction_id);
CREATE TABLE telegram_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    update_offset INTEGER NOT NULL DEFAULT 0,
    ignored INTEGER NOT NULL DEFAULT 0
);
INSERT INTO telegram_state (id) VALUES (1);
"""

PAYMENTS_SCHEMA = """
    ALTER TABLE transactions ADD COLUMN idempotency_key TEXT;
    ALTER TABLE transactions ADD COLUMN payment_url TEXT;
    ALTER TABLE transactions ADD COLUMN payment_origin TEXT;
    ALTER TABLE transactions ADD COLUMN payment_network TEXT;
    ALTER TABLE transactions ADD COLUMN payment_settlement TEXT;
    ALTER TABLE transactions ADD COLUMN payment_blockhash TEXT;
    CREATE UNIQUE INDEX transactions_by_idempotency_key
        ON transactions(wallet_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
"""

# Dollar values (docs/policy.md, "Rules in dollars"): each send's and payment's value
# at decision time (micro-dollars; NULL when no USD rule asked for one or no price was
# usable), the price, its source and time (or why there was none), and why a dollar
# rule raised its tier.
USD_SCHEMA = """
    ALTER TABLE transactions ADD COLUMN usd_micros INTEGER;
    ALTER TABLE transactions ADD COLUMN usd_price TEXT;
    ALTER TABLE transactions ADD COLUMN usd_source TEXT;
    ALTER TABLE transactions ADD COLUMN usd_priced_at INTEGER;
    ALTER TABLE transactions ADD COLUMN usd_error TEXT;
    ALTER TABLE transactions ADD COLUMN tier_reason TEXT;
    CREATE INDEX transactions_by_session ON transactions(session_id, created_at);
"""

# OAuth 2.1 for /mcp (docs/remote-access.md, docs/notes/oauth.md). A grant is a session:
# revoking the session ends every token of it. Request ids, codes and tokens are stored
# as SHA-256 hashes only; a client's secret too.
OAUTH_SCHEMA = """
    CREATE TABLE oauth_clients (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT,
        redirect_uris TEXT NOT NULL,
        application_type TEXT NOT NULL,
        auth_method TEXT NOT NULL,
        secret_hash TEXT,
        metadata TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE oauth_requests (
        id_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        state TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        issuer TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE oauth_grants (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id),
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        resource TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE oauth_codes (
        code_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        client_id TEXT NOT NULL,
        redirect_uri TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
    );
    CREATE TABLE oauth_tokens (
        token_hash TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        used_at INTEGER
    );
    CREATE INDEX oauth_tokens_by_session ON oauth_tokens(session_id);
"""

# Outbox of notifications (SPEC 13): one row per event, one per event and channel.
# The audit log of SPEC 13: rows chained by hash from a genesis of zeros (domain/audit.py).
AUDIT_SCHEMA = """
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    wallet_id TEXT,
    session_id TEXT,
    transaction_id TEXT,
    details TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_by_wallet ON audit_log(wallet_id, seq);
CREATE INDEX audit_by_action ON audit_log(action, seq);
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{genesis}');
""".format(genesis="0" * 64)

NOTIFY_SCHEMA = """
CREATE TABLE notification_events (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    wallet_id TEXT,
    data TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE notification_deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL REFERENCES notification_events(id),
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (event_id, channel)
);
CREATE INDEX notification_deliveries_due ON notification_deliveries(status, next_attempt_at);
"""

EVM_SCHEMA = """
    -- The network a send went out on (an EVM wallet uses several; older rows: the wallet's),
    -- the nonce it was signed with, the fee it paid, the hashes a fee bump replaced
    -- (JSON list) and when its current bytes were last broadcast.
    ALTER TABLE transactions ADD COLUMN network TEXT;
    ALTER TABLE transactions ADD COLUMN nonce INTEGER;
    ALTER TABLE transactions ADD COLUMN fee TEXT;
    ALTER TABLE transactions ADD COLUMN replaced TEXT;
    ALTER TABLE transactions ADD COLUMN broadcast_at INTEGER;
    UPDATE transactions
        SET network = (SELECT network FROM wallets WHERE wallets.id = transactions.wallet_id);
    -- One signed content per nonce: a second transaction can never take a nonce a
    -- stored one holds (a refused broadcast gives its nonce back: NULL).
    CREATE UNIQUE INDEX transactions_by_nonce ON transactions(wallet_id, network, nonce)
        WHERE nonce IS NOT NULL;
    -- Circle's USDC on every EVM network (waiaas_core.networks, with the source), and
    -- evm-local's test USDC (its faucet's first deployment: chain/evm/embedded.py).
    INSERT INTO tokens (network, mint, symbol, decimals, program, builtin, created_at) VALUES
        ('evm-local',
         '0x0312eaBB9E6856FCaeD2E12746FC4dc4129872E1', 'USDC', 6, 'erc20', 1, 0),
        ('ethereum',
         '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48', 'USDC', 6, 'erc20', 1, 0),
        ('sepolia',
         '0x1c7D4B196Cb0C7B01d743Fbc6116a902379C7238', 'USDC', 6, 'erc20', 1, 0),
        ('base',
         '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', 'USDC', 6, 'erc20', 1, 0),
        ('base-sepolia',
         '0x036CbD53842c5426634e7929541eC2318f3dCF7e', 'USDC', 6, 'erc20', 1, 0),
        ('arbitrum',
         '0xaf88d065e77c8cC2239327C5EDb3A432268e5831', 'USDC', 6, 'erc20', 1, 0),
        ('arbitrum-sepolia',
         '0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d', 'USDC', 6, 'erc20', 1, 0),
        ('optimism',
         '0x0b2C639c533813f4Aa9D7837CAf62653d097Ff85', 'USDC', 6, 'erc20', 1, 0),
        ('optimism-sepolia',
         '0x5fd84259d66Cd46123540766Be93DFE6D43130D7', 'USDC', 6, 'erc20', 1, 0),
        ('polygon',
         '0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359', 'USDC', 6, 'erc20', 1, 0),
        ('polygon-amoy',
         '0x41E94Eb019C0762f9Bfcf9Fb1E58725BfB0e7582', 'USDC', 6, 'erc20', 1, 0);
"""


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
    # 4: wallet policy, owner decisions, kill switch and suspension (SPEC 12, 13).
    """
    ALTER TABLE wallets ADD COLUMN status_reason TEXT;
    ALTER TABLE wallets ADD COLUMN status_changed_at INTEGER;
    ALTER TABLE transactions ADD COLUMN tier TEXT;
    ALTER TABLE transactions ADD COLUMN execute_at INTEGER;
    ALTER TABLE transactions ADD COLUMN approval_expires_at INTEGER;
    ALTER TABLE transactions ADD COLUMN decided_at INTEGER;
    ALTER TABLE transactions ADD COLUMN reason TEXT;
    CREATE INDEX transactions_waiting ON transactions(status, execute_at, approval_expires_at)
        WHERE status IN ('QUEUED', 'PENDING_APPROVAL');
    CREATE TABLE policies (
        wallet_id TEXT PRIMARY KEY REFERENCES wallets(id),
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE denials (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        wallet_id TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX denials_by_wallet ON denials(wallet_id, at);
    CREATE TABLE kill_switch (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        active INTEGER NOT NULL,
        reason TEXT,
        since INTEGER
    );
    INSERT INTO kill_switch (id, active) VALUES (1, 0);
    -- A revoked session (revocation, termination, MCP replacement) cancels its
    -- waiting sends in the very transaction that revokes it.
    CREATE TRIGGER sessions_revoked_cancel_waiting AFTER UPDATE OF revoked_at ON sessions
    WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
    BEGIN
        UPDATE transactions
        SET status = 'CANCELLED', reason = 'the session was revoked',
            decided_at = NEW.revoked_at, updated_at = NEW.revoked_at
        WHERE session_id = NEW.id AND status IN ('QUEUED', 'PENDING_APPROVAL');
    END;
    """,
    # 5: the audit log (SPEC 13), hash-chained.
    AUDIT_SCHEMA,
    # 6: the notification outbox (SPEC 13).
    NOTIFY_SCHEMA,
    # 7: the token registry and the token a transfer moves (SPEC 14).
    TOKENS_SCHEMA,
    # 8: the Telegram bot: the owner chat, link codes, approval prompts, the update offset.
    TELEGRAM_SCHEMA,
    # 9: x402 payments (docs/notes/x402.md): a PAYMENT record, its resource's origin,
    # the facilitator's settlement signature, and the caller's idempotency key.
    PAYMENTS_SCHEMA,
    # 10: dollar values of sends and payments, and why a dollar rule raised a tier.
    USD_SCHEMA,
    # 11: the embedded evm-local chain (docs/notes/evm-engine.md): py-evm's key-value
    # store (state trie nodes, blocks, receipts, the transaction index), written per block.
    """
    CREATE TABLE evm_local_state (key BLOB PRIMARY KEY, value BLOB NOT NULL);
    """,
    # 12: OAuth 2.1 for /mcp: clients, authorization requests, grants, codes, tokens.
    OAUTH_SCHEMA,
    # 13: EVM chains (docs/notes/evm.md): a send's network, nonce, fee and replaced hashes.
    EVM_SCHEMA,
    # 14: x402 on EVM (docs/notes/x402.md): an EIP-3009 payment's 32-byte nonce and the
    # instant its authorization lapses, recorded before it is signed.
    """
    ALTER TABLE transactions ADD COLUMN payment_nonce TEXT;
    ALTER TABLE transactions ADD COLUMN payment_valid_before INTEGER;
    """,
    # 15: wallet names are unique among live wallets (docs/notes/console-pages.md). A database
    # that already holds two live wallets of one name keeps the oldest's name and gives the
    # others their id's first 8 characters as a suffix, so the index can be built.
    """
    UPDATE wallets SET name = name || ' (' || substr(id, 1, 8) || ')'
    WHERE status != 'TERMINATED' AND seq NOT IN (
        SELECT MIN(seq) FROM wallets WHERE status != 'TERMINATED' GROUP BY name
    );
    CREATE UNIQUE INDEX wallets_live_name ON wallets(name) WHERE status != 'TERMINATED';
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
