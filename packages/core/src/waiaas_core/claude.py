"""The Claude Desktop configuration: the ``mcpServers`` snippet and where the file lives.

The daemon (``POST /v1/mcp/tokens``) and the CLI (``waiaas mcp setup``) both
build the snippet here, so the two can never disagree.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from waiaas_core.slug import unique_slugs

MCP_COMMAND = "waiaas-mcp"
SERVER_PREFIX = "waiaas-"


@dataclass(frozen=True)
class WalletRef:
    id: str
    name: str


def find_mcp_command(
    executable: str | None = None, path: str | None = None
) -> tuple[str, list[str]]:
    """The absolute ``waiaas-mcp`` to run, and its args.

    Claude Desktop does not inherit the shell's PATH, so the command must be
    absolute: first the one beside the running interpreter, then one on PATH,
    else ``uvx waiaas-mcp``.
    """
    folder = Path(executable or sys.executable).parent
    for name in (MCP_COMMAND, MCP_COMMAND + ".exe"):
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute()), []
    found = shutil.which(MCP_COMMAND, path=path)
    if found:
        return str(Path(found).absolute()), []
    uvx = shutil.which("uvx", path=path)
    return (str(Path(uvx).absolute()) if uvx else "uvx"), [MCP_COMMAND]


def server_entry(
    wallet: WalletRef, *, base_url: str, data_dir: Path, command: str, args: list[str]
) -> dict[str, Any]:
    return {
        "command": command,
        "args": list(args),
        "env": {
            "WAIAAS_DATA_DIR": str(data_dir),
            "WAIAAS_BASE_URL": base_url,
            "WAIAAS_WALLET_ID": wallet.id,
            "WAIAAS_WALLET_NAME": wallet.name,
        },
    }


def build_claude_desktop_config(
    wallets: Iterable[WalletRef],
    *,
    base_url: str,
    data_dir: Path,
    command: tuple[str, list[str]] | None = None,
    all_wallets: Iterable[WalletRef] | None = None,
) -> dict[str, Any]:
    """``{"mcpServers": {"waiaas-<slug>": entry}}`` for the wallets given.

    Slugs are resolved over ``all_wallets`` (default: the wallets given) so a
    wallet keeps the same server name whether it is set up alone or with others.
    """
    chosen = list(wallets)
    universe = list(all_wallets) if all_wallets is not None else chosen
    slugs = unique_slugs((w.id, w.name) for w in {w.id: w for w in universe + chosen}.values())
    cmd, args = command or find_mcp_command()
    servers = {
        SERVER_PREFIX + slugs[w.id]: server_entry(
            w, base_url=base_url, data_dir=data_dir, command=cmd, args=args
        )
        for w in chosen
    }
    return {"mcpServers": servers}


def claude_config_path(
    platform: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Path:
    platform = platform or sys.platform
    env = os.environ if env is None else env
    home = home or Path(env.get("HOME") or Path.home())
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if platform.startswith("win"):
        appdata = env.get("APPDATA") or str(home / "AppData" / "Roaming")
        return Path(appdata) / "Claude" / "claude_desktop_config.json"
    return home / ".config" / "Claude" / "claude_desktop_config.json"
