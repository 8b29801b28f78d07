"""MCP token files (``mcp-tokens/<walletId>``): they only ever hold a committed token.

A new token (provisioned or renewed) is first written to a pending file
beside the token file, before the commit that makes it the session's current
one; once the commit is durable, the pending file is renamed over the token
file. A daemon killed between the two leaves the pending file, and the next
start settles it: renamed into place if the database holds it as a live
session's current token, removed otherwise. So the file never holds a token
the database never committed, and an MCP server whose renewal answer was lost
(its retry gets 409) re-reads the file and finds the token that was committed.
All file work runs in a worker thread: each write fsyncs.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread

from waiaas_core.atomic import fsync_dir, read_secret_file, write_secret_file
from waiaas_core.paths import TOKENS_DIR, ensure_private_dir
from waiaas_core.tokens import decode_unverified
from waiaas_daemon.storage import Storage

log = logging.getLogger("waiaas_daemon.domain.token_files")

PENDING_SUFFIX = ".pending"


def pending_path(target: Path) -> Path:
    # A dot file: waiaas-mcp reads only mcp-tokens/<walletId>, never this one.
    return target.with_name(f".{target.name}{PENDING_SUFFIX}")


@dataclass
class TokenFileUpdate:
    """The two halves of one token file write, for the hooks of a database write.

    ``create``: provisioning makes the file; a renewal only updates a file that
    exists (the operator may have removed it). ``required``: an error writing
    the pending file fails the write (and so rolls back the commit) instead of
    being logged.
    """

    target: Path
    token: str
    create: bool
    required: bool
    _pending: Path | None = field(default=None, init=False)

    async def before_commit(self) -> None:
        try:
            await anyio.to_thread.run_sync(self._write_pending)
        except OSError as exc:
            if self.required:
                raise
            # The MCP server writes the file itself when the answer reaches it.
            log.warning("cannot write the MCP token file %s: %s", self.target, exc.strerror)

    async def after_commit(self) -> None:
        if self._pending is None:
            return
        try:
            await anyio.to_thread.run_sync(_move_into_place, self._pending, self.target)
        except OSError as exc:
            # The pending file stays; the next start puts it in place.
            log.warning("cannot update the MCP token file %s: %s", self.target, exc.strerror)

    async def discard(self) -> None:
        """After a failed write: the pending token was never committed."""
        if self._pending is not None:
            await anyio.to_thread.run_sync(_remove, self._pending)
            self._pending = None

    def _write_pending(self) -> None:
        if self.create:
            ensure_private_dir(self.target.parent)
        elif not self.target.exists():
            return
        pending = pending_path(self.target)
        write_secret_file(pending, self.token)
        self._pending = pending


def _move_into_place(pending: Path, target: Path) -> None:
    os.replace(pending, target)
    fsync_dir(target.parent)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def settle_pending(data_dir: Path, db: Storage) -> int:
    """At start: each pending file into place if its token is committed, else away.

    Returns how many were put in place.
    """
    folder = data_dir / TOKENS_DIR
    try:
        pendings = sorted(folder.glob(f".*{PENDING_SUFFIX}"))
    except OSError:
        return 0
    placed = 0
    for pending in pendings:
        target = folder / pending.name[1 : -len(PENDING_SUFFIX)]
        if await _is_committed(db, target.name, pending):
            await anyio.to_thread.run_sync(_move_into_place, pending, target)
            log.info("put the committed MCP token in place for wallet %s", target.name)
            placed += 1
        else:
            await anyio.to_thread.run_sync(_remove, pending)
    return placed


async def _is_committed(db: Storage, wallet_id: str, pending: Path) -> bool:
    try:
        token = await anyio.to_thread.run_sync(read_secret_file, pending)
        claims = decode_unverified(token or "")
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    session_id = claims.get("sub")
    session = await db.get_session(session_id) if isinstance(session_id, str) else None
    return (
        session is not None
        and session.wallet_id == wallet_id
        and session.revoked_at is None
        and session.token_hash == hashlib.sha256((token or "").encode()).hexdigest()
    )
