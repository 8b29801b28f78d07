"""Merging waiaas entries into Claude Desktop's ``claude_desktop_config.json``.

Every other key and server is kept; a wallet's old entry (found by
``env.WAIAAS_WALLET_ID``, whatever its key) is replaced; a key that another
server holds is never taken. The file is written atomically, after a backup
of the old one beside it; a file that is not a JSON object is left untouched.

Only a regular file of at most MAX_CONFIG_BYTES is read, without blocking: a
FIFO, a device or a huge file in its place is refused, never waited on.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from waiaas_core.atomic import write_secret_file

SERVERS_KEY = "mcpServers"
#: Claude Desktop's config is a few KiB; anything near this is not one.
MAX_CONFIG_BYTES = 1024 * 1024
_UNTOUCHED = "it was left untouched"


class DesktopConfigError(click.ClickException):
    """The config file cannot be merged into; it has not been changed."""


@dataclass(frozen=True)
class WriteResult:
    path: Path
    backup: Path | None
    changed: bool


def read_config_bytes(path: Path) -> bytes | None:
    """The file's bytes, None if it does not exist; raises if it is not a small regular file."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DesktopConfigError(f"{path} is not a regular file; {_UNTOUCHED}.")
        if info.st_size > MAX_CONFIG_BYTES:
            raise DesktopConfigError(_too_big(path))
        data = _read_at_most(fd, MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:  # it grew after the fstat
        raise DesktopConfigError(_too_big(path))
    return data


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _too_big(path: Path) -> str:
    return f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; {_UNTOUCHED}."


def parse_config(path: Path, data: bytes) -> dict[str, Any]:
    """The config as a dict; raises DesktopConfigError for anything we could not write back."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DesktopConfigError(f"{path} is not UTF-8 text; {_UNTOUCHED}.") from None
    if not text.strip():
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DesktopConfigError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"{_UNTOUCHED}. Fix it, or add the entries printed above by hand."
        ) from None
    except RecursionError:
        raise DesktopConfigError(f"{path} is nested too deeply; {_UNTOUCHED}.") from None
    if not isinstance(config, dict):
        raise DesktopConfigError(f"{path} does not hold a JSON object; {_UNTOUCHED}.")
    if not isinstance(config.get(SERVERS_KEY, {}), dict):
        raise DesktopConfigError(f"{path}: {SERVERS_KEY} is not an object; {_UNTOUCHED}.")
    _check_writable(path, config)
    return config


def _check_writable(path: Path, config: dict[str, Any]) -> None:
    """Refuse what json.loads accepts but UTF-8 cannot hold (a lone surrogate escape)."""
    try:
        serialize(config)
    except UnicodeEncodeError:
        raise DesktopConfigError(
            f"{path} holds a lone surrogate (a \\ud800-style escape that is not text); "
            f"{_UNTOUCHED}."
        ) from None
    except RecursionError:
        raise DesktopConfigError(f"{path} is nested too deeply; {_UNTOUCHED}.") from None


def serialize(config: dict[str, Any]) -> bytes:
    return (json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def load_config(path: Path) -> dict[str, Any] | None:
    """The config as a dict, None if the file does not exist; raises if it is unusable."""
    data = read_config_bytes(path)
    return None if data is None else parse_config(path, data)


def wallet_id_of(entry: Any) -> str | None:
    env = entry.get("env") if isinstance(entry, dict) else None
    wallet_id = env.get("WAIAAS_WALLET_ID") if isinstance(env, dict) else None
    return wallet_id.lower() if isinstance(wallet_id, str) else None


def merge_servers(config: dict[str, Any], servers: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``servers`` merged into its ``mcpServers``; ``config`` is not changed.

    A replaced entry keeps its place in the file; new ones are appended.
    """
    existing: dict[str, Any] = config.get(SERVERS_KEY) or {}
    key_of_wallet = {wallet_id_of(entry): key for key, entry in servers.items()}
    for key, entry in existing.items():
        if key in servers and wallet_id_of(entry) != wallet_id_of(servers[key]):
            raise DesktopConfigError(
                f"the Claude Desktop config already has a server named {key!r} that is not "
                "this wallet's; rename or remove it there, then run again."
            )
    merged: dict[str, Any] = {}
    for key, entry in existing.items():
        wallet_id = wallet_id_of(entry)
        if wallet_id is not None and wallet_id in key_of_wallet:
            new_key = key_of_wallet[wallet_id]
            merged[new_key] = servers[new_key]
        else:
            merged[key] = entry
    merged.update((key, entry) for key, entry in servers.items() if key not in merged)
    return {**config, SERVERS_KEY: merged}


def backup_path(path: Path, now: datetime) -> Path:
    """``<name>.bak-<UTC timestamp>``, with a counter if that name is taken."""
    stem = f"{path.name}.bak-{now:%Y%m%dT%H%M%SZ}"
    candidate, n = path.with_name(stem), 1
    while candidate.exists():
        candidate, n = path.with_name(f"{stem}-{n}"), n + 1
    return candidate


def install_servers(path: Path, servers: dict[str, Any], *, now: datetime) -> WriteResult:
    """Merge ``servers`` into the file at ``path`` (created if missing), atomically."""
    # A config kept in a dotfiles repo is often a symlink: write where it points.
    path = Path(os.path.realpath(path))
    old_bytes = read_config_bytes(path)
    old = None if old_bytes is None else parse_config(path, old_bytes)
    merged = merge_servers(old or {}, servers)
    if old == merged:
        return WriteResult(path, None, changed=False)
    backup = None
    payload = serialize(merged)  # before the backup: a failure here leaves no trace
    if old_bytes is not None:
        backup = backup_path(path, now)
        # The file may hold other servers' API keys: the backup is 0600 too.
        write_secret_file(backup, old_bytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret_file(path, payload)
    return WriteResult(path, backup, changed=True)
