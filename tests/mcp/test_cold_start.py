"""What `waiaas-mcp` imports before it answers: a structural test of its cold start.

Claude Desktop starts one `waiaas-mcp` per wallet at every launch, and waits for
`initialize`. Neither `initialize` nor `tools/list` talks to the daemon, so the HTTP
stack (httpx, httpcore, h11, h2, certifi; trio and rich when installed) must not be
imported before they are answered: it comes with the first request that needs it.
The real entry point runs under `python -X importtime`, whose lines reach stderr (a
file here) as each import finishes; what the file holds when an answer arrives is
what was imported before it. Not a clock: the machine's load does not change it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.text import TextReceiveStream

from tests.mcp.support import WALLET, make_token
from tests.mcp.test_server import INITIALIZE, INITIALIZED, closed_port
from waiaas_core.atomic import write_secret_file
from waiaas_core.lazy_http import LazyHttp
from waiaas_core.paths import token_path

pytestmark = pytest.mark.anyio

# What neither initialize nor tools/list needs, and what each costs at a start.
DEFERRED = {
    "httpx": "the HTTP client, and with it httpx's command line (rich, pygments)",
    "httpcore": "httpx's connection pool, built by the AsyncClient",
    "h11": "HTTP/1.1, imported by httpcore",
    "h2": "HTTP/2, imported by httpcore when installed",
    "certifi": "the CA bundle httpx loads for its SSL context",
    "trio": "httpcore's lock backend when trio is installed",
    "rich": "httpx's command line, and the handler of the SDK's logging setup",
    "pygments": "httpx's command line",
    "waiaas_core.tokens": "PyJWT and cryptography's JWT code, for a base64 decode",
}
CALL = {"params": {"name": "get_address", "arguments": {}}}
IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)\s*$", re.MULTILINE)


def imported(log: Path) -> set[str]:
    return set(IMPORTED.findall(log.read_text()))


def deferred_in(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules if any(name == d or name.startswith(d + ".") for d in DEFERRED)
    )


async def test_nothing_the_first_answers_do_not_need_is_imported_before_them(tmp_path: Path):
    path = token_path(tmp_path, WALLET)
    path.parent.mkdir(parents=True)
    write_secret_file(path, make_token())
    env = {
        "PATH": "/usr/bin:/bin",
        "WAIAAS_DATA_DIR": str(tmp_path),
        "WAIAAS_WALLET_ID": WALLET,
        "WAIAAS_BASE_URL": f"http://127.0.0.1:{closed_port()}",
    }
    log = tmp_path / "importtime.log"
    with log.open("w") as stderr:
        process = await anyio.open_process(
            [sys.executable, "-X", "importtime", "-m", "waiaas_mcp"],
            env=env,
            stderr=stderr,
            stdout=subprocess.PIPE,
        )
    async with process:
        assert process.stdin is not None and process.stdout is not None
        lines = TextReceiveStream(process.stdout)
        buffer = ""

        async def ask(message: dict[str, Any]) -> dict[str, Any]:
            nonlocal buffer
            await process.stdin.send((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]
            while "\n" not in buffer:
                buffer += await lines.receive()
            line, buffer = buffer.split("\n", 1)
            answer = json.loads(line)
            assert answer["id"] == message["id"] and "result" in answer, answer
            return answer["result"]

        try:
            with anyio.fail_after(60):
                await ask(INITIALIZE)
                before_initialize = imported(log)
                await process.stdin.send((json.dumps(INITIALIZED) + "\n").encode())
                tools = await ask({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
                before_tools = imported(log)
                result = await ask({"jsonrpc": "2.0", "id": 3, "method": "tools/call"} | CALL)
                after_call = imported(log)
                await process.stdin.aclose()
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()

    assert "mcp.server.mcpserver" in before_initialize  # the log is read right
    assert deferred_in(before_initialize) == []
    assert len(tools["tools"]) == 11
    assert deferred_in(before_tools) == []
    # The first call to the daemon (down here: a network error) brings the HTTP stack.
    assert "network_error" in result["content"][0]["text"]
    assert {"httpx", "httpcore", "h11"} <= after_call
    assert "waiaas_core.tokens" not in after_call


async def test_the_lazy_client_is_made_once_at_first_use_and_never_after_closing():
    made: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient())
        return made[-1]

    async with LazyHttp(factory) as http:
        assert not http.created and made == []
        assert http() is http() is made[0]
    assert made[0].is_closed
    async with LazyHttp(factory) as unused:
        pass
    assert len(made) == 1  # closing an unused one makes nothing
    with pytest.raises(RuntimeError):
        unused()
