"""The token file reader (waiaas_mcp/token_file.py): regular files of at most 64 KiB only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from waiaas_mcp.token_file import (
    MAX_TOKEN_FILE_BYTES,
    TokenFileError,
    read_token_file,
    read_token_file_sync,
)


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path):
    target = tmp_path / "real"
    target.write_text("  wai_sess_abc\n")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert read_token_file_sync(link) == "wai_sess_abc"


def test_a_missing_file_is_none_and_a_dangling_symlink_too(tmp_path: Path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    assert read_token_file_sync(tmp_path / "absent") is None
    assert read_token_file_sync(link) is None


def test_a_file_of_exactly_the_limit_is_read_one_byte_more_is_refused(tmp_path: Path):
    path = tmp_path / "token"
    path.write_bytes(b"a" * MAX_TOKEN_FILE_BYTES)
    assert read_token_file_sync(path) == "a" * MAX_TOKEN_FILE_BYTES
    path.write_bytes(b"a" * (MAX_TOKEN_FILE_BYTES + 1))
    with pytest.raises(TokenFileError, match="larger than 64 KiB"):
        read_token_file_sync(path)


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path):
    path = tmp_path / "token"
    os.mkfifo(path)
    with pytest.raises(TokenFileError, match="a FIFO"):
        read_token_file_sync(path)


def test_text_that_is_not_utf8_is_refused(tmp_path: Path):
    path = tmp_path / "token"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(TokenFileError, match="UTF-8"):
        read_token_file_sync(path)


@pytest.mark.anyio
async def test_the_async_read_runs_in_a_worker_thread_and_answers_the_same(tmp_path: Path):
    path = tmp_path / "token"
    path.write_text("wai_sess_x")
    assert await read_token_file(path) == "wai_sess_x"
