import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
import uuid

import pytest

from waiaas_core.atomic import read_secret_file, remove_stale_temp_files, write_secret_file
from waiaas_core.errors import WaiaasError
from waiaas_core.paths import ensure_private_dir, legacy_token_path, resolve_data_dir, token_path

WRITER = r"""
import sys
from waiaas_core.atomic import write_secret_file
path, size = sys.argv[1], int(sys.argv[2])
n = 0
print("ready", flush=True)
while True:
    n += 1
    body = str(n % 10) * size
    write_secret_file(path, f"{n}:{body}:{n}")
"""


def _is_complete(content: str, size: int) -> bool:
    head, body, tail = content.split(":")
    return head == tail and body == str(int(head) % 10) * size


def test_token_file_is_0600_in_a_0700_folder(tmp_path):
    data_dir = ensure_private_dir(tmp_path / "data")
    wid = str(uuid.uuid4())
    path = token_path(data_dir, wid)
    ensure_private_dir(path.parent)
    write_secret_file(path, "wai_sess_abc")
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert read_secret_file(path) == "wai_sess_abc"


def test_write_replaces_content_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "secret"
    write_secret_file(path, "old")
    write_secret_file(path, b"new")
    assert read_secret_file(path) == "new"
    assert os.listdir(tmp_path) == ["secret"]


def test_write_is_0600_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        write_secret_file(tmp_path / "secret", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "secret").st_mode) == 0o600


def test_missing_file_reads_as_none(tmp_path):
    assert read_secret_file(tmp_path / "nope") is None


@pytest.mark.parametrize(
    "bad", ["../x", "x", "", "../../etc/passwd", "69ae0fe6-c5b9-4e72-82be-df0d0cd97c61/.."]
)
def test_wallet_id_that_is_not_a_uuid_is_refused(tmp_path, bad):
    with pytest.raises(WaiaasError) as info:
        token_path(tmp_path, bad)
    assert info.value.code == "INVALID_REQUEST"


def test_data_dir_resolution_order(tmp_path):
    assert resolve_data_dir(tmp_path / "flag", {"WAIAAS_DATA_DIR": "/env"}) == tmp_path / "flag"
    assert str(resolve_data_dir(None, {"WAIAAS_DATA_DIR": "/env"})) == "/env"
    assert resolve_data_dir(None, {}).name == ".waiaas"
    assert legacy_token_path(tmp_path) == tmp_path / "mcp-token"


@pytest.mark.slow
def test_sigkill_during_writes_never_leaves_a_partial_file(tmp_path):
    size = 256 * 1024
    path = tmp_path / "token"
    write_secret_file(path, f"0:{'0' * size}:0")
    seen_bad: list[str] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            content = read_secret_file(path)
            if content is None or not _is_complete(content, size):
                seen_bad.append((content or "<missing>")[:40])

    thread = threading.Thread(target=reader)
    thread.start()
    rng = random.Random(1234)
    last = 0
    try:
        for _ in range(25):
            child = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), str(size)], stdout=subprocess.PIPE
            )
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.001, 0.03))
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
            content = read_secret_file(path)
            assert content is not None and _is_complete(content, size)
            last = max(last, int(content.split(":")[0]))
    finally:
        stop.set()
        thread.join()
    assert seen_bad == []
    assert last > 0, "the writer never completed a write; the test proved nothing"
    for name in os.listdir(tmp_path):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode & 0o077 == 0, f"{name} is readable by others ({oct(mode)})"


def test_stale_temp_files_of_killed_writers_are_removed_young_ones_kept(tmp_path):
    old = tmp_path / ".token.abc.tmp"
    young = tmp_path / ".token.def.tmp"
    kept = tmp_path / "token"
    for path in (old, young, kept):
        path.write_text("x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    os.utime(kept, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_temp_files(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".token.def.tmp", "token"]
    assert remove_stale_temp_files(tmp_path / "missing") == 0
