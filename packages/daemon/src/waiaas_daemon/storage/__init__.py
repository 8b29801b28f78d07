"""The daemon's database, behind one class (SPEC 11): ``Database`` and its row types."""

from waiaas_daemon.storage.cache import RowCache
from waiaas_daemon.storage.database import Database, LimitReached, VersionConflict
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

__all__ = [
    "MIGRATIONS",
    "Database",
    "Event",
    "KillSwitchRow",
    "LimitReached",
    "MasterLockoutRow",
    "NewSession",
    "NewTransaction",
    "NewWallet",
    "PolicyRow",
    "RowCache",
    "SchemaTooNew",
    "SendInputs",
    "SessionRow",
    "TokenRow",
    "TransactionRow",
    "VersionConflict",
    "WalletRow",
]
