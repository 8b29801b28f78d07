import os
import pty
import select
import sqlite3
import subprocess
import sys
import time

import anyio
import pytest

from waiaas_daemon.storage import MIGRATIONS, Database, SchemaTooNew

pytestmark = pytest.mark.anyio


async def test_new_database_is_migrated_to_the_latest_version_in_wal_mode(tmp_path):
    path = tmp_path / "waiaas.db"
    async with Database.open(path):
        pass
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopening_keeps_the_data(tmp_path):
    path = tmp_path / "waiaas.db"
    async with Database.open(path) as db:
        await db.set_meta_once("k", b"v")
    async with Database.open(path) as db:
        assert await db.get_meta("k") == b"v"
        assert await db.set_meta_once("k", b"other") == b"v"


async def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "waiaas.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade waiaas-daemon"):
        async with Database.open(path):
            pass


async def test_failed_transaction_rolls_back(tmp_path):
    async with Database.open(tmp_path / "waiaas.db") as db:
        with pytest.raises(ZeroDivisionError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('a', x'00')")
                raise ZeroDivisionError
        assert await db.get_meta("a") is None


def _serve(*args: str, password: str = "whatever-long") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "waiaas_daemon", "serve", *args],
        env={"WAIAAS_MASTER_PASSWORD": password, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_on_a_newer_database_is_one_clear_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / "waiaas.db") as db:
        db.execute("PRAGMA user_version = 999")
    result = _serve("--data-dir", str(data), "--port", "0")
    assert result.returncode == 1
    assert "schema is version 999" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_a_bad_config_is_one_clear_line(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "config.toml").write_text("[daemon]\nport = 'x'\n")
    result = _serve("--data-dir", str(data))
    assert result.returncode == 1
    assert "port must be a whole number" in result.stderr and "Traceback" not in result.stderr


def test_first_start_refuses_a_short_master_password(tmp_path):
    result = _serve("--data-dir", str(tmp_path / "d"), "--port", "0", password="short")
    assert result.returncode == 1 and "at least 8 characters" in result.stderr


def _read_until(fd: int, text: str, seen: bytearray, times: int = 1, timeout: float = 30) -> str:
    """Read the pty until ``text`` appeared ``times`` times; returns everything read so far."""
    deadline = time.monotonic() + timeout
    while seen.count(text.encode()) < times:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"{text!r} never came; got {seen.decode(errors='replace')!r}")
        try:
            seen += os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            raise AssertionError(
                f"{text!r} never came; got {seen.decode(errors='replace')!r}"
            ) from None
    return seen.decode(errors="replace")


def test_first_start_prompt_names_the_minimum_and_asks_again_after_a_short_password(tmp_path):
    leader, follower = pty.openpty()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    argv = [sys.executable, "-m", "waiaas_daemon", "serve", "--data-dir", str(tmp_path / "d")]
    process = subprocess.Popen(
        [*argv, "--port", "0"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    seen = bytearray()
    try:
        _read_until(leader, "at least 8 characters", seen)
        os.write(leader, b"short\n")
        _read_until(leader, "needs at least 8 characters", seen)
        assert process.poll() is None
        _read_until(leader, "Set the master password", seen, times=2)
        os.write(leader, b"long enough password\n")
        _read_until(leader, "Repeat", seen)
        os.write(leader, b"long enough password\n")
        assert "listening on http://127.0.0.1:" in _read_until(leader, "listening on", seen)
    finally:
        process.terminate()
        process.wait(15)
        os.close(leader)
    assert process.returncode == 0


def test_port_in_use_is_one_clear_line(daemon):
    port = daemon.base_url.rsplit(":", 1)[1]
    result = _serve("--data-dir", str(daemon.data_dir.parent / "x"), "--port", port)
    assert result.returncode == 1
    assert (
        f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr
    )


async def test_a_read_after_a_commit_sees_it_while_other_reads_overlap(tmp_path):
    # A cursor left open between jobs on the shared reader connection pins an old
    # WAL snapshot: a write followed by its own read-back then found nothing.
    async with Database.open(tmp_path / "waiaas.db") as db:
        stop = anyio.Event()
        await db.set_meta_once("present", b"x")

        async def reader():
            while not stop.is_set():
                await db.get_meta("present")  # a row: the statement is not stepped to its end

        stale = 0
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(reader)
            for n in range(200):
                await db.set_meta_once(f"k{n}", b"v")
                if await db.get_meta(f"k{n}") is None:
                    stale += 1
            stop.set()
        assert stale == 0


async def test_a_version_1_database_is_migrated_forward_keeping_its_rows(tmp_path):
    path = tmp_path / "waiaas.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("INSERT INTO meta (key, value) VALUES ('kept', x'01')")
        db.execute("PRAGMA user_version = 1")
    async with Database.open(path) as db:
        assert await db.get_meta("kept") == b"\x01"
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) > 1
        indexes = {row[1] for row in db.execute("PRAGMA index_list('transactions')")}
        assert "transactions_by_wallet_time" in indexes
