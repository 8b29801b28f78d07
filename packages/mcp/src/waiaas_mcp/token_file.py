"""Reading the session token file without trusting what sits at its path.

The path is under the user's control: a FIFO there would block a plain ``read`` forever
(and with it ``initialize``, stdin close and SIGTERM), a symlink to ``/dev/zero`` would
grow memory without bound. Only a regular file (a symlink to one is fine) of at most
``MAX_TOKEN_FILE_BYTES`` is read, and the read runs in a worker thread.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import anyio.to_thread

#: A token is a few hundred bytes; anything bigger is not ours.
MAX_TOKEN_FILE_BYTES = 64 * 1024

# O_NONBLOCK: opening a FIFO for reading must not wait for a writer. O_NOCTTY: a
# terminal device at the path must not become our controlling terminal.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
_OPEN_FLAGS |= getattr(os, "O_CLOEXEC", 0)


class TokenFileError(Exception):
    """The path holds something that is not a readable token file; the message says what."""


def read_token_file_sync(path: Path) -> str | None:
    """The file's text, stripped; None when nothing is at the path. Raises TokenFileError."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TokenFileError(f"cannot open it ({exc.strerror or type(exc).__name__})") from None
    try:
        check_mode(os.fstat(fd).st_mode)
        data = _read_at_most(fd, MAX_TOKEN_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise TokenFileError(f"it is larger than {MAX_TOKEN_FILE_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TokenFileError("it is not UTF-8 text") from None


def check_mode(mode: int) -> None:
    """Refuse anything but a regular file, naming what was found."""
    if stat.S_ISREG(mode):
        return
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
    raise TokenFileError(f"it is {kind}, not a regular file")


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = os.read(fd, limit - size)
        except OSError as exc:
            raise TokenFileError(f"cannot read it ({exc.strerror or type(exc).__name__})") from None
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def read_token_file(path: Path) -> str | None:
    """``read_token_file_sync`` in a worker thread, so a slow disk never stalls the loop."""
    # abandon_on_cancel: a read stuck in the kernel (a hung network mount) must not
    # keep the process alive after stdin closes or SIGTERM.
    return await anyio.to_thread.run_sync(read_token_file_sync, path, abandon_on_cancel=True)
