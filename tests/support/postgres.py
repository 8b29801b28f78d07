"""A throwaway PostgreSQL cluster for the test run: initdb in a temp dir, a unix socket.

initdb and postgres refuse to run as root, and CI runs as root: then the
cluster belongs to a system user (``waiaas-pg``, made when missing) and its
commands run through ``runuser``. Each test asks for a fresh database.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLUSTER_USER = "waiaas-pg"
SKIP_ENV = "WAIAAS_TEST_NO_POSTGRES"


class PostgresUnavailable(Exception):
    """The test PostgreSQL server could not be started (the message says why)."""


def bin_dir() -> Path:
    """Where initdb lives: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise PostgresUnavailable(
            "no initdb: install Debian's postgresql package (nox -s tests does it), "
            f"or set {SKIP_ENV}=1 to skip the PostgreSQL tests"
        )
    return Path(candidates[-1]).parent


def _as_cluster_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", CLUSTER_USER, "--", *argv]


def _ensure_user() -> None:
    if os.geteuid() != 0:
        return
    if subprocess.run(["id", "-u", CLUSTER_USER], capture_output=True).returncode == 0:
        return
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", CLUSTER_USER],
        check=True,
        capture_output=True,
    )


@dataclass
class Cluster:
    root: Path
    bindir: Path
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        """A new empty database; its URL."""
        name = f"waiaas_test_{os.getpid()}_{next(self._names)}"
        run_sql(self.url(), f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove the cluster."""
        self._pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- faults: the server gone and back, the data kept (tests/faults) ---------------

    def restart(self) -> None:
        """``pg_ctl restart``: every connection is cut, the server is back when it returns."""
        # -l as at start: the new server must not inherit (and hold open) our pipes.
        self._pg_ctl("-m", "fast", *_start_args(self.root), "restart")

    def stop_server(self) -> None:
        """The server gone (connections cut, new ones refused); the data stays."""
        self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def start_server(self) -> None:
        self._pg_ctl(*_start_args(self.root), "start")

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        argv = [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), *args]
        done = subprocess.run(_as_cluster_user(argv), capture_output=True, text=True, check=False)
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl {args[-1]} failed: {done.stderr.strip()}")


def _start_args(root: Path) -> list[str]:
    return [
        *("-l", str(root / "server.log"), "-w", "-t", "60"),
        *("-o", f"-F -h '' -k {root / 'socket'} -c max_connections=300"),
    ]


def run_sql(url: str, sql: str, *args: Any) -> list[Any]:
    """One statement on its own connection, from blocking code (a thread of its own)."""
    import asyncpg

    async def run() -> list[Any]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.extend(asyncio.run(run())))
    thread.start()
    thread.join()
    return result


def start_cluster() -> Cluster:
    """initdb + pg_ctl start, fsync off, listening on a unix socket only."""
    bindir = bin_dir()
    _ensure_user()
    root = Path(tempfile.mkdtemp(prefix="waiaas-pg-"))
    (root / "socket").mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, CLUSTER_USER)
        shutil.chown(root / "socket", CLUSTER_USER)
    data = root / "data"
    run = [
        [
            str(bindir / "initdb"),
            *("-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"),
            *("--no-sync", "--no-instructions"),
        ],
        [str(bindir / "pg_ctl"), "-D", str(data), *_start_args(root), "start"],
    ]
    for argv in run:
        done = subprocess.run(_as_cluster_user(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(
                f"{Path(argv[0]).name} failed ({done.returncode}): {done.stderr.strip()} {tail}"
            )
    return Cluster(root, bindir)
