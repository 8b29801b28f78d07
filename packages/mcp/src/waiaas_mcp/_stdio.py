"""stdin for the stdio transport that a cancellation can interrupt.

The SDK reads stdin in a worker thread that no cancellation stops: after SIGTERM the
process would wait for the client's next line. Here a pipe is read without blocking,
through the event loop, so cancelling the server ends the read at once.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import stat
import sys

import anyio

CHUNK = 65536


class StdinLines:
    """Async iterator of the lines on a pipe or socket file descriptor (stdin by default)."""

    def __init__(self, fd: int = 0) -> None:
        self._fd = fd
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._lines: list[str] = []
        self._eof = False
        self._was_blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)

    @staticmethod
    def supported(fd: int = 0) -> bool:
        """Only pipes and sockets can be waited on; a file or a Windows handle cannot."""
        if sys.platform == "win32":  # pragma: no cover
            return False
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return False
        return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)

    def __aiter__(self) -> StdinLines:
        return self

    async def __anext__(self) -> str:
        while not self._lines:
            if self._eof:
                raise StopAsyncIteration
            await self._fill()
        return self._lines.pop(0)

    async def _fill(self) -> None:
        await anyio.wait_readable(self._fd)
        try:
            chunk = os.read(self._fd, CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            self._eof = True
            rest = self._pending + self._decoder.decode(b"", final=True)
            self._pending = ""
            if rest.strip():
                self._lines.append(rest)
            return
        *complete, self._pending = (self._pending + self._decoder.decode(chunk)).split("\n")
        self._lines.extend(line + "\n" for line in complete)

    def close(self) -> None:
        """Give the descriptor its blocking mode back."""
        with contextlib.suppress(OSError):  # the descriptor may be gone
            os.set_blocking(self._fd, self._was_blocking)
