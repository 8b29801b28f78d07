"""A trial, not a fix: the daemon with the changes docs/benchmarks.md recommends, monkeypatched.

    PYTHONPATH=benchmarks/trials WAIAAS_BENCH_DAEMON_MODULE=patched_daemon \
        python -m benchmarks.load_test

- reads are one job on aiosqlite's thread (``execute_fetchall``), so no statement
  stays open between jobs and no read sees a snapshot older than the last commit;
- verified tokens are cached (``exp`` still checked on every use);
- with ``PATCH_WALLET_CACHE=1``, wallet rows are cached in memory too.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from typing import Any

from waiaas_core import tokens
from waiaas_daemon import sessions, storage
from waiaas_daemon.cli import main

_verify = tokens.verify_session_token


@functools.lru_cache(maxsize=4096)
def _verified(token: str, secret: bytes) -> tokens.SessionClaims:
    return _verify(token, secret)


def verify(token: str, secret: bytes, *, now: float | None = None) -> tokens.SessionClaims:
    claims = _verified(token, secret)
    if claims.expires_at <= (time.time() if now is None else now):
        return _verify(token, secret, now=now)  # raises the usual SESSION_EXPIRED
    return claims


async def _one(self: storage.Database, sql: str, params: Any = ()) -> Any:
    rows = await self._reader.execute_fetchall(sql, params)
    return rows[0] if rows else None


async def _all(self: storage.Database, sql: str, params: Any = ()) -> list[Any]:
    return list(await self._reader.execute_fetchall(sql, params))


sessions.verify_session_token = verify
storage.Database._one = _one
storage.Database._all = _all

if os.environ.get("PATCH_WALLET_CACHE"):
    _get_wallet = storage.Database.get_wallet
    _terminate = storage.Database.terminate_wallet
    _wallets: dict[str, Any] = {}

    async def get_wallet(self: storage.Database, wallet_id: str) -> Any:
        row = _wallets.get(wallet_id)
        if row is None:
            row = _wallets[wallet_id] = await _get_wallet(self, wallet_id)
        return row

    async def terminate_wallet(self: storage.Database, wallet_id: str, now: int) -> None:
        _wallets.pop(wallet_id, None)
        await _terminate(self, wallet_id, now)

    storage.Database.get_wallet = get_wallet
    storage.Database.terminate_wallet = terminate_wallet

if __name__ == "__main__":
    sys.argv[0] = "waiaas-daemon"
    main()
