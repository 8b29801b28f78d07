"""The local node's own SQLite file: accounts, landed transactions, the history per address.

``waiaas-daemon local-node`` keeps its ledger here, apart from any daemon's
database: each landed transaction is one commit holding the accounts it wrote,
the transaction with its metadata, its addresses and the node's slot, so a
restart (or a crash) keeps balances, mints and history. The file is 0600.
Plain ``sqlite3``: the node answers one request at a time on one event loop,
and each write is a few rows.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waiaas_daemon.chain.base import AccountSnapshot
from waiaas_daemon.chain.node import Landed

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    address TEXT PRIMARY KEY, lamports INTEGER NOT NULL, data BLOB NOT NULL,
    owner TEXT NOT NULL, executable INTEGER NOT NULL, rent_epoch TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transactions (
    signature TEXT PRIMARY KEY, slot INTEGER NOT NULL, block_time INTEGER NOT NULL,
    raw BLOB NOT NULL, version INTEGER, err TEXT, meta TEXT NOT NULL, blockhash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, address TEXT NOT NULL, signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_address ON history(address, seq);
"""


@dataclass(frozen=True)
class StoredTransaction:
    signature: str
    slot: int
    block_time: int
    raw: bytes
    version: int | None
    err: Any
    meta: dict[str, Any]


class NodeLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self._db = sqlite3.connect(path, isolation_level=None)
        if fresh:
            os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- meta ------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta_once(self, key: str, value: str) -> str:
        """``value`` if ``key`` was unset, else what it already holds."""
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
        held = self.meta(key)
        assert held is not None
        return held

    # -- accounts ----------------------------------------------------------------

    def accounts(self) -> list[AccountSnapshot]:
        rows = self._db.execute(
            "SELECT address, lamports, data, owner, executable, rent_epoch FROM accounts"
        )
        return [
            AccountSnapshot(a, lamports, bytes(data), owner, bool(executable), int(epoch))
            for a, lamports, data, owner, executable, epoch in rows
        ]

    def save_accounts(self, snapshots: tuple[AccountSnapshot, ...]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._put_accounts(snapshots)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- transactions --------------------------------------------------------------

    def save(self, landed: Landed, slot: int, also: tuple[AccountSnapshot, ...] = ()) -> None:
        """One commit: what the transaction wrote, the transaction, its addresses, the slot."""
        meta = {
            "fee": landed.fee,
            "preBalances": list(landed.pre_balances),
            "postBalances": list(landed.post_balances),
            "preTokenBalances": list(landed.pre_token_balances),
            "postTokenBalances": list(landed.post_token_balances),
            "logMessages": list(landed.logs),
            "computeUnitsConsumed": landed.compute_units,
        }
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._put_accounts(landed.accounts + also)
            self._db.execute(
                "INSERT OR IGNORE INTO transactions "
                "(signature, slot, block_time, raw, version, err, meta, blockhash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    landed.signature,
                    landed.slot,
                    landed.block_time,
                    landed.raw,
                    landed.version,
                    None if landed.err is None else json.dumps(landed.err),
                    json.dumps(meta),
                    landed.blockhash,
                ),
            )
            self._db.executemany(
                "INSERT INTO history (address, signature) VALUES (?, ?)",
                [(address, landed.signature) for address in dict.fromkeys(landed.addresses)],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('slot', ?)", (str(slot),)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def transaction(self, signature: str) -> StoredTransaction | None:
        row = self._db.execute(
            "SELECT signature, slot, block_time, raw, version, err, meta FROM transactions "
            "WHERE signature = ?",
            (signature,),
        ).fetchone()
        if row is None:
            return None
        sig, slot, block_time, raw, version, err, meta = row
        return StoredTransaction(
            sig, slot, block_time, bytes(raw), version, _json(err), json.loads(meta)
        )

    def statuses(self, signatures: list[str]) -> dict[str, tuple[int, Any]]:
        """(slot, err) of each landed signature among ``signatures``."""
        if not signatures:
            return {}
        marks = ",".join("?" * len(signatures))
        rows = self._db.execute(
            f"SELECT signature, slot, err FROM transactions WHERE signature IN ({marks})",  # noqa: S608
            signatures,
        )
        return {sig: (slot, _json(err)) for sig, slot, err in rows}

    def history(
        self, address: str, limit: int, before: str | None, until: str | None
    ) -> list[tuple[str, int, Any, int]]:
        """(signature, slot, err, block time) of ``address``'s transactions, newest first."""
        low, high = 0, 2**62
        if before is not None:
            high = self._seq(address, before) or 0
        if until is not None:
            low = self._seq(address, until) or 0
        rows = self._db.execute(
            "SELECT t.signature, t.slot, t.err, t.block_time FROM history h "
            "JOIN transactions t ON t.signature = h.signature "
            "WHERE h.address = ? AND h.seq > ? AND h.seq < ? ORDER BY h.seq DESC LIMIT ?",
            (address, low, high, limit),
        )
        return [(sig, slot, _json(err), block_time) for sig, slot, err, block_time in rows]

    def recent_blockhashes(self, count: int) -> list[str]:
        rows = self._db.execute(
            "SELECT blockhash FROM transactions ORDER BY slot DESC LIMIT ?", (count,)
        ).fetchall()
        return [row[0] for row in reversed(rows)]

    def _seq(self, address: str, signature: str) -> int | None:
        row = self._db.execute(
            "SELECT seq FROM history WHERE address = ? AND signature = ?", (address, signature)
        ).fetchone()
        return None if row is None else int(row[0])

    def _put_accounts(self, snapshots: tuple[AccountSnapshot, ...]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO accounts "
            "(address, lamports, data, owner, executable, rent_epoch) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (s.address, s.lamports, s.data, s.owner, int(s.executable), str(s.rent_epoch))
                for s in snapshots
            ],
        )


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
