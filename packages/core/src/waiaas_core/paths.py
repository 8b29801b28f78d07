"""Where waiaas keeps its files: the data dir and the paths inside it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import canonical_uuid

DATA_DIR_MODE = 0o700
CONFIG_FILE = "config.toml"
DATABASE_FILE = "waiaas.db"
TOKENS_DIR = "mcp-tokens"
LEGACY_TOKEN_FILE = "mcp-token"
PID_FILE = "daemon.pid"


def resolve_data_dir(
    flag: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """``--data-dir``, else ``$WAIAAS_DATA_DIR``, else ``~/.waiaas``."""
    env = os.environ if env is None else env
    chosen = flag or env.get("WAIAAS_DATA_DIR") or "~/.waiaas"
    return Path(chosen).expanduser().absolute()


def ensure_private_dir(path: Path) -> Path:
    """Create the folder (and parents) if needed and make it 0700."""
    path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DATA_DIR_MODE)
    return path


def check_wallet_id(wallet_id: str) -> str:
    """The wallet id in canonical UUID form; anything else (``../x``, upper case) is refused."""
    try:
        return canonical_uuid(wallet_id)
    except ValueError:
        raise WaiaasError("INVALID_REQUEST", "The wallet id is not a UUID.") from None


def token_path(data_dir: Path, wallet_id: str) -> Path:
    return data_dir / TOKENS_DIR / check_wallet_id(wallet_id)


def legacy_token_path(data_dir: Path) -> Path:
    return data_dir / LEGACY_TOKEN_FILE
