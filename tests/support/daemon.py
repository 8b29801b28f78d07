"""A real `waiaas-daemon serve` subprocess on an ephemeral loopback port, for tests.

``--port 0`` lets the daemon bind a free port itself and print it, so there
is no "find a free port, close it, reuse it" race.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "correct horse battery staple"
LISTENING = re.compile(r"waiaas-daemon listening on (http://\S+)")

# Short enough that tests can renew and expire sessions in seconds.
NO_PRICES = {"pyth_url": "", "coingecko_url": "", "jupiter_url": ""}
FAST_SECURITY = {"min_session_ttl": 1, "session_ttl": 3600}


@dataclass
class Daemon:
    base_url: str
    data_dir: Path
    password: str
    process: subprocess.Popen[bytes]
    stderr_lines: list[str] = field(default_factory=list)
    drainer: threading.Thread | None = None

    @property
    def master(self) -> dict[str, str]:
        return {"X-Master-Password": self.password}

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One masterAuth request."""
        headers = {**self.master, **kwargs.pop("headers", {})}
        with self.client() as http:
            return http.request(method, path, headers=headers, **kwargs)

    def create_wallet(self, name: str = "main") -> dict[str, Any]:
        response = self.api("POST", "/v1/wallets", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()

    def create_session(self, wallet_id: str, **body: Any) -> dict[str, Any]:
        response = self.api("POST", "/v1/sessions", json={"walletId": wallet_id, **body})
        assert response.status_code == 201, response.text
        return response.json()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(15)

    def close(self) -> None:
        """Call after the process ended: waits for the reader, then closes the pipe."""
        if self.drainer is not None:
            self.drainer.join(10)
        if self.process.stderr is not None:
            self.process.stderr.close()

    @property
    def log(self) -> str:
        return "\n".join(self.stderr_lines)


def write_config(data_dir: Path, sections: Mapping[str, Mapping[str, Any]]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            rendered = str(value).lower() if isinstance(value, bool) else repr(value)
            lines.append(f"{key} = {rendered}".replace("'", '"'))
    (data_dir / "config.toml").write_text("\n".join(lines) + "\n")


def start_daemon(
    data_dir: Path,
    *,
    password: str = PASSWORD,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    timeout: float = 30,
    args: Sequence[str] = (),
    max_open_files: int | None = None,
) -> Daemon:
    """Start the daemon and wait for its "listening" line; ``port=0`` takes a free one.

    ``args`` go after ``serve`` (e.g. ``--header-timeout 0.3``); ``max_open_files``
    sets the child's RLIMIT_NOFILE, as ``ulimit -n`` would.
    """
    if config is not None:
        # Price sources off unless the test gives its own: never the real price APIs.
        write_config(data_dir, {"prices": NO_PRICES, **config})
    full_env = {**os.environ, "WAIAAS_MASTER_PASSWORD": password, **(env or {})}
    full_env.pop("WAIAAS_DATA_DIR", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "waiaas_daemon",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *args,
        ],
        preexec_fn=None if max_open_files is None else _limit_open_files(max_open_files),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=full_env,
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

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    if not found.wait(timeout) or not url:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        drainer.join(10)
        process.stderr.close()
        raise RuntimeError("daemon did not start:\n" + "\n".join(lines))
    return Daemon(url[0], data_dir, password, process, lines, drainer)


def _limit_open_files(limit: int) -> Any:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


@contextlib.contextmanager
def running_daemon(data_dir: Path, **kwargs: Any) -> Iterator[Daemon]:
    daemon = start_daemon(data_dir, **kwargs)
    try:
        yield daemon
    except BaseException:
        # The daemon's own account of a failed test, in the test's captured output.
        daemon.kill()
        daemon.close()
        print(f"--- the daemon's log ---\n{daemon.log}")
        raise
    finally:
        daemon.kill()
        daemon.close()
