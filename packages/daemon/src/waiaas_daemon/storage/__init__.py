"""The daemon's database, behind one class (SPEC 11): ``Database`` and its row types."""

from waiaas_daemon.storage.cache import RowCache
from waiaas_daemon.storage.database import Database, LimitReached
from waiaas_daemon.storage.migrations import MIGRATIONS, SchemaTooNew
from waiaas_daemon.storage.rows import (
    MasterLockoutRow,
    NewSession,
    NewTransaction,
    NewWallet,
    SessionRow,
    TransactionRow,
    WalletRow,
)

__all__ = [
    "MIGRATIONS",
    "Database",
    "LimitReached",
    "MasterLockoutRow",
    "NewSession",
    "NewTransaction",
    "NewWallet",
    "RowCache",
    "SchemaTooNew",
    "SessionRow",
    "TransactionRow",
    "WalletRow",
]
