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


async def test_reopening_keeps_the_data(open_store):
    async with open_store() as db:
        await db.set_meta_once("k", b"v")
    async with open_store() as db:
        assert await db.get_meta("k") == b"v"
        assert await db.set_meta_once("k", b"other") == b"v"


async def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "waiaas.db"
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade waiaas-daemon"):
        async with Database.open(path):
            pass


async def test_failed_transaction_rolls_back(open_store):
    async with open_store() as db:
        with pytest.raises(ZeroDivisionError):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('a', ?)", (b"\x00",))
                raise ZeroDivisionError
        assert await db.get_meta("a") is None


# --port 0 always: 3100 may be taken (the README's daemon; tests/conftest.py holds it).
SERVE = [sys.executable, "-m", "waiaas_daemon", "serve"]


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


async def test_a_read_after_a_commit_sees_it_while_other_reads_overlap(open_store):
    # A cursor left open between jobs on the shared reader connection pins an old
    # WAL snapshot: a write followed by its own read-back then found nothing.
    async with open_store() as db:
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


async def test_postgres_schema_has_every_table_and_column_of_sqlite(tmp_path, postgres_url):
    # A migration added for SQLite alone (or not translatable) breaks this.
    from tests.support.postgres import run_sql
    from waiaas_daemon.storage.postgres import PostgresStorage

    async with Database.open(tmp_path / "waiaas.db"):
        pass
    with sqlite3.connect(tmp_path / "waiaas.db") as db:
        tables = [
            r[0]
            for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if not r[0].startswith("sqlite_")
        ]
        expected = {t: {r[1] for r in db.execute(f"PRAGMA table_info('{t}')")} for t in tables}
    async with PostgresStorage.open(postgres_url):
        pass
    rows = run_sql(
        postgres_url,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public'",
    )
    [(version,)] = run_sql(postgres_url, "SELECT version FROM schema_version")
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    assert {t: found.get(t) for t in expected} == expected
    assert version == len(MIGRATIONS)


async def test_postgres_triggers_cancel_waiting_sends_of_a_revoked_session(postgres_url):
    from waiaas_daemon.storage.postgres import PostgresStorage

    async with PostgresStorage.open(postgres_url) as db:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO wallets (id, name, chain, network, address, status, created_at, "
                "key_ciphertext, key_nonce, key_salt, kdf) "
                "VALUES ('w', 'n', 'solana', 'devnet', 'a', 'ACTIVE', 1, ?, ?, ?, '{}')",
                (b"c", b"n", b"s"),
            )
            await conn.execute(
                "INSERT INTO sessions (id, wallet_id, token_hash, ttl, expires_at, created_at) "
                "VALUES ('s', 'w', 'h', 60, 999, 1)"
            )
            await conn.execute(
                "INSERT INTO transactions (id, wallet_id, session_id, type, status, amount, "
                "created_at, updated_at) VALUES ('t', 'w', 's', 'TRANSFER', 'QUEUED', '5', 1, 1)"
            )
        await db.revoke_session("s", 50)
        tx = await db.get_transaction("t")
        assert (tx.status, tx.decided_at, tx.reason) == ("CANCELLED", 50, "the session was revoked")


def test_postgres_with_the_in_process_chain_is_refused_in_one_line(tmp_path):
    # No server needed: the combination is refused before connecting.
    done = subprocess.run(
        [*SERVE, "--data-dir", str(tmp_path / "d"), "--port", "0"],
        env={
            "WAIAAS_MASTER_PASSWORD": "whatever-long",
            "WAIAAS_STORAGE_URL": "postgresql://u:s3cret-pw@127.0.0.1:1/x",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: [storage] url names a PostgreSQL database"), done.stderr
    assert "rpc_url" in lines[-1] and "Traceback" not in done.stderr
    assert "s3cret-pw" not in done.stderr


def test_an_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    done = subprocess.run(
        [*SERVE, "--data-dir", str(tmp_path / "d"), "--port", "0"],
        env={
            "WAIAAS_MASTER_PASSWORD": "whatever-long",
            "WAIAAS_STORAGE_URL": "postgresql://u:s3cret-pw@127.0.0.1:1/x",
            "WAIAAS_SOLANA_NETWORK": "devnet",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: cannot use the PostgreSQL database of [storage] url")
    assert "s3cret-pw" not in done.stderr and "Traceback" not in done.stderr
