"""The stdio transport: JSON-RPC lines in and out, every request answered.

The SDK's ``stdio_server`` reads stdin in a worker thread that no cancellation stops
(after SIGTERM the process would wait for the client's next line), drops a line that
does not parse without answering it (JSON-RPC wants -32700), cannot parse a lone
surrogate escape at all (the request then gets no answer), and writes each line from a
worker thread. Here a pipe is read and written without blocking, through the event
loop; ``classify_line`` decides in one pure function what each line is.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage

log = logging.getLogger("waiaas_mcp.stdio")

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


# -- deciding what a line is (pure) ------------------------------------------------

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def classify_line(line: str) -> SessionMessage | types.JSONRPCError | None:
    """A message to serve, the error to answer at once, or None for a line to ignore."""
    if not line.strip():
        return None
    try:
        return SessionMessage(types.jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError:
        pass
    # The SDK's parser refuses what Python's accepts: lone surrogate escapes.
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return _error(None, types.PARSE_ERROR, "Parse error: the line is not JSON.")
    request_id = _request_id(value)
    if not isinstance(value, dict) or "method" not in value:
        return _error(request_id, types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC request.")
    if "id" not in value:
        return None  # a notification gets no answer, even a malformed one
    if _has_lone_surrogate(value):
        return _error(
            request_id,
            types.INVALID_PARAMS,
            "Invalid params: a string holds a lone UTF-16 surrogate, which is not valid Unicode.",
        )
    return _error(request_id, types.INVALID_REQUEST, "Invalid Request: not a JSON-RPC request.")


def _request_id(value: Any) -> int | str | None:
    if not isinstance(value, dict):
        return None
    request_id = value.get("id")
    if isinstance(request_id, bool) or not isinstance(request_id, int | str):
        return None
    if isinstance(request_id, str) and _LONE_SURROGATE.search(request_id):
        return None  # could not be written back
    return request_id


def _has_lone_surrogate(value: Any) -> bool:
    # The whole message, keys included, in one regex pass over its re-encoding.
    return bool(_LONE_SURROGATE.search(json.dumps(value, ensure_ascii=False)))


def _error(request_id: int | str | None, code: int, message: str) -> types.JSONRPCError:
    return types.JSONRPCError(
        jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message)
    )


def encode_message(message: types.JSONRPCMessage) -> bytes:
    """One line of JSON; an answer that cannot be encoded becomes an error for its id."""
    try:
        text = message.model_dump_json(by_alias=True, exclude_unset=True)
    except ValueError:  # pydantic's serialization error: e.g. a surrogate in a result
        request_id = getattr(message, "id", None)
        if request_id is None:
            return b""
        error = _error(request_id, types.INTERNAL_ERROR, "Internal error: unencodable answer.")
        text = error.model_dump_json(by_alias=True, exclude_unset=True)
    return text.encode("utf-8") + b"\n"


# -- the transport (I/O) -------------------------------------------------------------

# How long the last answers may take to reach a client that stopped reading.
DRAIN_SECONDS = 2.0


class StdoutWriter:
    """Writes whole lines to a pipe without blocking the loop (or blocking, on a file)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        mode = os.fstat(fd).st_mode
        self._waitable = sys.platform != "win32" and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))
        self._was_blocking = os.get_blocking(fd)
        if self._waitable:
            os.set_blocking(fd, False)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.set_blocking(self._fd, self._was_blocking)


@asynccontextmanager
async def stdio_transport(
    stdin_fd: int = 0, stdout_fd: int = 1
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
    ]
]:
    """The (read, write) streams the SDK's lowlevel server runs on, over two descriptors."""
    lines = StdinLines(stdin_fd)
    out = StdoutWriter(stdout_fd)
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    # Answers to bad lines share the writer with the server's own messages.
    answers = write_stream.clone()

    async def reader() -> None:
        async with read_writer, answers:
            async for line in lines:
                item = classify_line(line)
                if isinstance(item, SessionMessage):
                    await read_writer.send(item)
                elif item is not None:
                    log.warning("Answered a bad line with %s", item.error.message)
                    await answers.send(SessionMessage(item))

    written = anyio.Event()

    async def writer() -> None:
        try:
            async with write_reader:
                async for session_message in write_reader:
                    data = encode_message(session_message.message)
                    if data:
                        await out.write(data)
        finally:
            written.set()

    reading = anyio.CancelScope()

    async def read_until_stopped() -> None:
        with reading:
            await reader()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_until_stopped)
            tg.start_soon(writer)
            yield read_stream, write_stream
            # The server is done: stop reading, let the writer finish what it holds.
            reading.cancel()
            write_stream.close()
            with anyio.move_on_after(DRAIN_SECONDS):
                await written.wait()
            tg.cancel_scope.cancel()
    finally:
        lines.close()
        out.close()
