"""`waiaas-mcp` as a process (waiaas_mcp/server.py): stdio, degraded mode, shutdown.

No daemon here: these cover what the server does without one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream
from mcp import Client, ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.mcp.support import WALLET, make_token, result_json
from waiaas_core.atomic import write_secret_file
from waiaas_core.paths import token_path
from waiaas_core.tokens import sign_session_token
from waiaas_mcp.server import main, uses_tls

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "WAIAAS_DATA_DIR": str(data_dir),
        "WAIAAS_WALLET_ID": WALLET,
        "WAIAAS_BASE_URL": f"http://127.0.0.1:{closed_port()}",
        **extra,
    }


def stdio_params(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "waiaas_mcp"], env=env)


class RawServer:
    """waiaas-mcp with its pipes in our hands, to see every byte and time its exit."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        self._lines = TextReceiveStream(process.stdout)
        self._buffer = ""

    async def send(self, message: dict) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send((json.dumps(message) + "\n").encode())

    async def receive(self) -> dict:
        while "\n" not in self._buffer:
            self._buffer += await self._lines.receive()
        line, self._buffer = self._buffer.split("\n", 1)
        return json.loads(line)

    async def initialize(self) -> dict:
        await self.send(INITIALIZE)
        answer = await self.receive()
        await self.send(INITIALIZED)
        return answer


@asynccontextmanager
async def raw_server(env: dict[str, str]) -> AsyncIterator[RawServer]:
    process = await anyio.open_process(
        [sys.executable, "-m", "waiaas_mcp"],
        env={"PATH": "/usr/bin:/bin", **env},
        stderr=subprocess.PIPE,
    )
    async with process:
        try:
            yield RawServer(process)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def test_without_a_token_the_server_starts_lists_its_tools_and_answers_expired(
    tmp_path: Path,
):
    async with Client(stdio_params(server_env(tmp_path)), mode="legacy") as client:
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
        result = await client.call_tool("get_balance", {})
    assert len(tools) == 11
    assert len(resources) == 4
    assert not result.is_error
    assert result_json(result)["session_expired"] is True


async def test_with_the_daemon_down_tools_answer_network_error(tmp_path: Path):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    write_secret_file(path, make_token())
    async with Client(stdio_params(server_env(tmp_path)), mode="legacy") as client:
        result = await client.call_tool("get_address", {})
    assert not result.is_error
    assert result_json(result)["network_error"] is True


async def test_an_environment_token_is_used_when_there_is_no_file(tmp_path: Path):
    env = server_env(tmp_path, WAIAAS_SESSION_TOKEN=make_token())
    async with Client(stdio_params(env), mode="legacy") as client:
        info = result_json(await client.call_tool("get_session_info", {}))
    assert info["state"] == "active"


async def test_closing_stdin_ends_the_server_within_2_seconds(tmp_path: Path):
    async with raw_server(server_env(tmp_path)) as server:
        answer = await server.initialize()
        assert answer["result"]["serverInfo"]["name"] == "waiaas"
        assert server.process.stdin is not None
        await server.process.stdin.aclose()
        with anyio.fail_after(2):
            assert await server.process.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_ends_the_server_cleanly_while_stdin_stays_open(tmp_path: Path, signum: int):
    async with raw_server(server_env(tmp_path)) as server:
        await server.initialize()
        server.process.send_signal(signum)
        with anyio.fail_after(2):
            assert await server.process.wait() == 0


async def test_stdout_carries_only_json_rpc_and_stderr_only_prefixed_lines(tmp_path: Path):
    async with raw_server(server_env(tmp_path)) as server:
        await server.initialize()
        await server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        await server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "get_nonce", "arguments": {}},
            }
        )
        answers = [await server.receive(), await server.receive()]
        assert server.process.stdin is not None
        await server.process.stdin.aclose()
        with anyio.fail_after(5):
            await server.process.wait()
            rest = server._buffer + "".join([chunk async for chunk in server._lines])
            assert server.process.stderr is not None
            stderr = b"".join([chunk async for chunk in server.process.stderr]).decode()
    assert rest == ""
    assert sorted(answer["id"] for answer in answers) == [2, 3]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines
    assert all(line.startswith("[waiaas-mcp") for line in lines), lines


async def test_the_server_answers_initialize_at_once_with_a_renewal_hanging(tmp_path: Path):
    # A daemon that accepts connections and never answers; the token is due for renewal.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        now = int(time.time())
        path = token_path(tmp_path, WALLET)
        path.parent.mkdir(parents=True)
        write_secret_file(path, due_token(now))
        env = server_env(tmp_path, WAIAAS_BASE_URL=f"http://127.0.0.1:{port}")
        async with raw_server(env) as server:
            with anyio.fail_after(5):
                answer = await server.initialize()
            assert "result" in answer
            server.process.send_signal(signal.SIGTERM)
            with anyio.fail_after(2):
                assert await server.process.wait() == 0


def due_token(now: int) -> str:
    """Issued long ago with a second left: its renewal starts at once."""
    return sign_session_token(b"t" * 32, str(uuid.uuid4()), WALLET, now - 3000, now + 1)


def test_help_goes_to_stderr_and_exits_zero(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "WAIAAS_RECOVERY_POLL_SECONDS" in captured.err


# -- a token file that is not a regular file (issue 10) ---------------------------


def fifo(path: Path) -> None:
    os.mkfifo(path)


def dev_zero(path: Path) -> None:
    path.symlink_to("/dev/zero")


def directory(path: Path) -> None:
    path.mkdir()


def oversize(path: Path) -> None:
    path.write_bytes(b"a" * (1024 * 1024))


BAD_TOKEN_FILES = {
    "a FIFO": (fifo, "a FIFO"),
    "a symlink to /dev/zero": (dev_zero, "a character device"),
    "a directory": (directory, "a directory"),
    "a 1 MiB file": (oversize, "larger than 64 KiB"),
}


@pytest.mark.parametrize("make, problem", BAD_TOKEN_FILES.values(), ids=BAD_TOKEN_FILES.keys())
async def test_a_token_file_that_is_not_a_small_regular_file_leaves_the_server_degraded(
    tmp_path: Path, make, problem: str
):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    make(path)
    log = tmp_path / "stderr.log"
    with anyio.fail_after(15), log.open("w") as errlog:
        async with (
            stdio_client(stdio_params(server_env(tmp_path)), errlog=errlog) as (read, write),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            result = await client.call_tool("get_balance", {})
            info = await client.call_tool("get_session_info", {})
    assert not result.is_error
    assert result_json(result)["session_expired"] is True
    assert result_json(info)["state"] == "error"
    assert problem in result_json(info)["message"]
    lines = [line for line in log.read_text().splitlines() if problem in line]
    assert len(lines) == 1, lines


@pytest.mark.parametrize("make", [fifo, dev_zero], ids=["a FIFO", "a symlink to /dev/zero"])
async def test_with_a_hostile_token_file_closing_stdin_still_ends_the_server(tmp_path: Path, make):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    make(path)
    async with raw_server(server_env(tmp_path)) as server:
        with anyio.fail_after(5):
            answer = await server.initialize()
        assert "result" in answer
        assert server.process.stdin is not None
        await server.process.stdin.aclose()
        with anyio.fail_after(3):
            assert await server.process.wait() == 0


# -- every request gets an answer (issue 10) ----------------------------------------


async def send_raw(server: RawServer, line: bytes) -> None:
    assert server.process.stdin is not None
    await server.process.stdin.send(line + b"\n")


async def test_a_lone_surrogate_in_tool_arguments_gets_a_json_rpc_error(tmp_path: Path):
    async with raw_server(server_env(tmp_path)) as server:
        await server.initialize()
        await send_raw(
            server,
            b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"send_token",'
            b'"arguments":{"to":"9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM","amount":"1",'
            b'"memo":"\\ud800"}}}',
        )
        with anyio.fail_after(5):
            answer = await server.receive()
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32602
    assert "surrogate" in answer["error"]["message"]


@pytest.mark.parametrize(
    "line", [b"not json", b"\xff\xfe{", b"[" * 100_000], ids=["text", "bad UTF-8", "deep nesting"]
)
async def test_a_line_that_is_not_json_gets_the_parse_error_and_the_server_goes_on(
    tmp_path: Path, line: bytes
):
    async with raw_server(server_env(tmp_path)) as server:
        await server.initialize()
        await send_raw(server, line)
        await server.send({"jsonrpc": "2.0", "id": 8, "method": "ping"})
        with anyio.fail_after(5):
            answers = [await server.receive(), await server.receive()]
    assert answers == [
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": ANY_STR}},
        {"jsonrpc": "2.0", "id": 8, "result": {}},
    ]


async def test_a_json_value_that_is_not_a_request_gets_invalid_request_with_its_id(
    tmp_path: Path,
):
    async with raw_server(server_env(tmp_path)) as server:
        await server.initialize()
        await send_raw(server, b'{"jsonrpc":"2.0","id":9}')
        await send_raw(server, b"[]")
        with anyio.fail_after(5):
            answers = [await server.receive(), await server.receive()]
    assert [(a["id"], a["error"]["code"]) for a in answers] == [(9, -32600), (None, -32600)]


class _AnyStr:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)


ANY_STR = _AnyStr()


def test_certificates_are_loaded_only_for_an_https_daemon():
    assert uses_tls("https://wallet.example:3100")
    assert uses_tls("HTTPS://wallet.example")
    assert not uses_tls("http://127.0.0.1:3100")
