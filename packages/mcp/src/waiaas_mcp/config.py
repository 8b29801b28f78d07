"""Settings of waiaas-mcp, read once from the environment (SPEC section 9)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from waiaas_core.errors import WaiaasError
from waiaas_core.paths import legacy_token_path, resolve_data_dir, token_path

DEFAULT_BASE_URL = "http://127.0.0.1:3100"
DEFAULT_RECOVERY_POLL_SECONDS = 60.0


@dataclass(frozen=True)
class Settings:
    base_url: str
    data_dir: Path
    wallet_id: str | None
    wallet_name: str | None
    env_token: str | None
    recovery_poll_seconds: float
    # None when WAIAAS_WALLET_ID is not a UUID; config_error says why.
    token_file: Path | None
    config_error: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = resolve_data_dir(None, env)
        wallet_id = env.get("WAIAAS_WALLET_ID") or None
        token_file, error = _token_file(data_dir, wallet_id)
        return cls(
            base_url=(env.get("WAIAAS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            data_dir=data_dir,
            wallet_id=wallet_id,
            wallet_name=env.get("WAIAAS_WALLET_NAME") or None,
            env_token=(env.get("WAIAAS_SESSION_TOKEN") or "").strip() or None,
            recovery_poll_seconds=_poll_seconds(env.get("WAIAAS_RECOVERY_POLL_SECONDS")),
            token_file=token_file,
            config_error=error,
        )


def _token_file(data_dir: Path, wallet_id: str | None) -> tuple[Path | None, str | None]:
    if wallet_id is None:
        return legacy_token_path(data_dir), None
    try:
        return token_path(data_dir, wallet_id), None
    except WaiaasError:
        return None, "WAIAAS_WALLET_ID is not a UUID; run 'waiaas mcp setup' again."


def _poll_seconds(raw: str | None) -> float:
    """A positive number of seconds; anything else falls back to the default."""
    try:
        value = float(raw) if raw else DEFAULT_RECOVERY_POLL_SECONDS
    except ValueError:
        return DEFAULT_RECOVERY_POLL_SECONDS
    return value if value > 0 and value != float("inf") else DEFAULT_RECOVERY_POLL_SECONDS
