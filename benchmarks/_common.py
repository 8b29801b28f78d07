"""What every benchmark shares: servers in subprocesses, a lean HTTP/1.1 client, statistics.

The load generator is a closed loop on asyncio: N workers, each with its own
keep-alive connection, each sending its next request when the last answer arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "benchmark master password"
#: HTTP parser and event loop, the same for the daemon and the bare baseline.
#: "standard" is what the daemon picks where uvicorn[standard] is installed.
STACKS = {
    "standard": ["--http", "httptools", "--loop", "uvloop"],
    "pure": ["--http", "h11", "--loop", "asyncio"],
}
LISTENING = re.compile(r"listening on (http://\S+)")
HERE = Path(__file__).resolve().parent
SOL = 1_000_000_000


# -- servers in subprocesses ---------------------------------------------------


@dataclass
class Server:
    """A subprocess that prints ``... listening on http://HOST:PORT`` on stderr when ready."""

    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: list[str] = field(default_factory=list)
    data_dir: Path | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.base_url.removeprefix("http://").rpartition(":")
        return host, int(port)

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time (user + system) of the main thread and of all other threads so far."""
        main = others = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with contextlib.suppress(OSError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                used = (int(fields[11]) + int(fields[12])) / tick
                if int(task.name) == self.pid:
                    main += used
                else:
                    others += used
        return main, others

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)


def spawn_server(
    name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Server:
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            match = LISTENING.search(line)
            if match and not url:
                url.append(match.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    if not found.wait(timeout) or not url:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        raise RuntimeError(f"{name} did not start:\n" + "\n".join(lines))
    return Server(name, url[0], process, lines)


def write_config(data_dir: Path, security: Mapping[str, int], extra: str = "") -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = ["[security]", *(f"{key} = {value}" for key, value in security.items())]
    (data_dir / "config.toml").write_text("\n".join(lines) + "\n" + extra)


def start_daemon(
    data_dir: Path,
    security: Mapping[str, int] | None = None,
    stack: str = "standard",
    extra_config: str = "",
) -> Server:
    """``waiaas-daemon serve --port 0`` on a fresh data dir, as a user would run it.

    ``$WAIAAS_BENCH_DAEMON_MODULE`` names another module to run instead of
    ``waiaas_daemon`` (a patched build under trial, on ``$PYTHONPATH``);
    ``extra_config`` is appended to config.toml (more sections).
    """
    write_config(data_dir, security or {}, extra_config)
    module = os.environ.get("WAIAAS_BENCH_DAEMON_MODULE", "waiaas_daemon")
    server = spawn_server(
        "waiaas-daemon",
        [
            *(sys.executable, "-m", module, "serve", "--data-dir", str(data_dir), "--port", "0"),
            *STACKS[stack],
        ],
        env={"WAIAAS_MASTER_PASSWORD": PASSWORD},
    )
    server.data_dir = data_dir
    return server


def start_bare(body: Mapping[str, Any], stack: str = "standard") -> Server:
    """The baseline: bare Starlette + uvicorn answering the same JSON, same stack and options."""
    return spawn_server(
        "bare",
        [sys.executable, str(HERE / "bare_app.py"), "--body", json.dumps(body), *STACKS[stack]],
    )


@contextlib.contextmanager
def servers() -> Iterator[list[Server]]:
    """Collects started servers and stops them all on the way out."""
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in reversed(started):
            server.stop()


def beside_python(name: str) -> str:
    """A console script of this interpreter's environment, else the one on PATH."""
    script = Path(sys.executable).with_name(name)
    if script.exists():
        return str(script)
    return shutil.which(name) or name


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


# -- setup calls (httpx, not timed) --------------------------------------------


class Admin:
    """masterAuth and sessionAuth calls used to set a benchmark up."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def master(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        return self.call(method, path, expect, headers={"X-Master-Password": PASSWORD}, **kwargs)

    def bearer(self, token: str, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        return self.call(
            method, path, expect, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )

    def wallet(self, name: str, airdrop: int = 0) -> dict[str, Any]:
        wallet = self.master("POST", "/v1/wallets", 201, json={"name": name})
        if airdrop:
            path = f"/v1/wallets/{wallet['id']}/airdrop"
            self.master("POST", path, 201, json={"amount": str(airdrop)})
        return wallet

    def session(self, wallet_id: str, expires_in: int = 3600) -> dict[str, Any]:
        body = {"walletId": wallet_id, "expiresIn": expires_in}
        return self.master("POST", "/v1/sessions", 201, json=body)


# -- the load generator's HTTP client --------------------------------------------


class ConnectionLost(Exception):
    """The server closed the connection or answered something that is not HTTP/1.1."""


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams.

    About ten times cheaper per request than httpx: on two cores the generator
    shares the CPU with the server, and the less it takes, the more the numbers
    are the server's. It speaks just enough HTTP for uvicorn's answers
    (Content-Length bodies).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._host_header = f"Host: {host}:{port}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\n{self._host_header}"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body is not None or method in ("POST", "PUT"):
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self._writer.write(head.encode("latin-1") + b"\r\n" + payload)
        try:
            raw_head = await self._reader.readuntil(b"\r\n\r\n")
            status, length, close = _parse_head(raw_head)
            data = await self._reader.readexactly(length)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            await self.close()
            raise ConnectionLost(str(exc) or type(exc).__name__) from exc
        # uvicorn drops the connection after an unhandled exception's 500, saying nothing.
        if close or status >= 500:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


def _parse_head(raw: bytes) -> tuple[int, int, bool]:
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection":
            close = value.strip().lower() == "close"
    if length is None:
        raise ValueError("no Content-Length")
    return status, length, close


class HttpxConnection:
    """The same interface over an httpx.AsyncClient, to compare generators (--client httpx)."""

    def __init__(self, host: str, port: int) -> None:
        self._client = httpx.AsyncClient(base_url=f"http://{host}:{port}", timeout=60)

    async def request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, body: Any = None
    ) -> tuple[int, bytes]:
        try:
            response = await self._client.request(method, path, headers=headers, json=body)
        except httpx.TransportError as exc:
            raise ConnectionLost(str(exc)) from exc
        return response.status_code, response.content

    async def close(self) -> None:
        await self._client.aclose()


CLIENTS = {"raw": RawConnection, "httpx": HttpxConnection}


# -- closed-loop load ------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    errors: int = 0
    cpu_main: float = 0.0  # server CPU seconds in its main (event loop) thread
    cpu_others: float = 0.0  # in its other threads (aiosqlite's)

    def cpu_per_request(self) -> tuple[float, float]:
        n = max(len(self.latencies), 1)
        return self.cpu_main / n, self.cpu_others / n

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        return percentile(self.latencies, q)


async def closed_loop(
    connect: Callable[[], Any],
    request: Callable[[Any], Awaitable[tuple[int, bytes]]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.5,
) -> Run:
    """``concurrency`` workers for ``warmup + seconds``; only the measured window counts."""
    connections = [connect() for _ in range(concurrency)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    start = time.perf_counter() + warmup
    end = start + seconds

    async def worker(conn: Any) -> None:
        nonlocal errors
        while True:
            t0 = time.perf_counter()
            if t0 >= end:
                return
            try:
                status, _ = await request(conn)
            except ConnectionLost:
                errors += 1
                continue
            t1 = time.perf_counter()
            if start <= t0 and t1 <= end:
                latencies.append(t1 - t0)
                statuses[status] = statuses.get(status, 0) + 1

    try:
        await asyncio.gather(*(worker(c) for c in connections))
    finally:
        for conn in connections:
            await conn.close()
    return Run(seconds, latencies, statuses, errors)


# -- statistics and printing ---------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, so the output can be pasted into docs/benchmarks.md."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine() -> str:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {load:.2f}"
    )


def header(title: str) -> None:
    print(f"\n## {title}\n\nmachine: {machine()}\n", flush=True)
