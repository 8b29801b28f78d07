"""Atomic secret files: a reader sees the old or the new content, never a mix.

Write a temporary file with mode 0600 in the target's folder, flush and fsync
it, rename it over the target, then fsync the folder so the rename survives a
crash.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from pathlib import Path

SECRET_FILE_MODE = 0o600


def write_secret_file(path: str | os.PathLike[str], data: str | bytes) -> None:
    target = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, SECRET_FILE_MODE)
    try:
        try:
            os.fchmod(fd, SECRET_FILE_MODE)  # the umask may have taken bits away
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def read_secret_file(path: str | os.PathLike[str]) -> str | None:
    """The file's text stripped of surrounding white space, or None if it is missing."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temp_files(folder: Path, older_than: float = 3600) -> int:
    """Remove temporary files a killed writer left behind; return how many.

    Only files older than ``older_than`` seconds go: a younger one may belong
    to a writer that is still at work in another process.
    """
    removed = 0
    limit = time.time() - older_than
    try:
        candidates = list(folder.glob(".*.tmp"))
    except OSError:
        return 0
    for candidate in candidates:
        with contextlib.suppress(OSError):
            if candidate.is_file() and candidate.stat().st_mtime < limit:
                candidate.unlink()
                removed += 1
    return removed
