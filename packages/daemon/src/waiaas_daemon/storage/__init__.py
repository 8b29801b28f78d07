"""The daemon's database behind one interface (SPEC 11): ``Storage`` and its row types.

``SqliteStorage`` is the embedded default; ``PostgresStorage`` (imported on
demand, it needs asyncpg) is a database several daemons share.
"""

from waiaas_daemon.storage.cache import RowCache
from waiaas_daemon.storage.interface import (
    Connection,
    DuplicateKey,
    LimitReached,
    NameTaken,
    Storage,
    StorageUnavailable,
    VersionConflict,
    unavailable,
)
from waiaas_daemon.storage.migrations import MIGRATIONS, SchemaTooNew
from waiaas_daemon.storage.rows import (
    Event,
    KillSwitchRow,
    MasterLockoutRow,
    NewSession,
    NewTransaction,
    NewWallet,
    PolicyRow,
    SendInputs,
    SessionRow,
    TokenRow,
    TransactionRow,
    WalletRow,
)
from waiaas_daemon.storage.sqlite import Database, SqliteStorage

__all__ = [
    "MIGRATIONS",
    "Connection",
    "Database",
    "DuplicateKey",
    "Event",
    "KillSwitchRow",
    "LimitReached",
    "MasterLockoutRow",
    "NameTaken",
    "NewSession",
    "NewTransaction",
    "NewWallet",
    "PolicyRow",
    "RowCache",
    "SchemaTooNew",
    "SendInputs",
    "SessionRow",
    "SqliteStorage",
    "Storage",
    "StorageUnavailable",
    "TokenRow",
    "TransactionRow",
    "VersionConflict",
    "WalletRow",
    "unavailable",
]
