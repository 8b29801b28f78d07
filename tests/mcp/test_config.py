"""Settings from the environment (waiaas_mcp/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from waiaas_mcp.config import DEFAULT_BASE_URL, Settings

WALLET = "6f1c1a52-1c55-4c8e-9d1e-0a4c8b3c2d11"


def test_defaults_point_at_the_local_daemon_and_the_legacy_token_file(tmp_path: Path):
    settings = Settings.from_env({"WAIAAS_DATA_DIR": str(tmp_path)})
    assert settings.base_url == DEFAULT_BASE_URL
    assert settings.token_file == tmp_path / "mcp-token"
    assert settings.recovery_poll_seconds == 60
    assert settings.env_token is None


def test_a_wallet_id_selects_its_token_file(tmp_path: Path):
    settings = Settings.from_env({"WAIAAS_DATA_DIR": str(tmp_path), "WAIAAS_WALLET_ID": WALLET})
    assert settings.token_file == tmp_path / "mcp-tokens" / WALLET


def test_a_wallet_id_that_is_not_a_uuid_is_a_configuration_error(tmp_path: Path):
    env = {"WAIAAS_DATA_DIR": str(tmp_path), "WAIAAS_WALLET_ID": "../../etc/passwd"}
    settings = Settings.from_env(env)
    assert settings.token_file is None
    assert settings.config_error


@pytest.mark.parametrize(("raw", "expected"), [("5", 5.0), ("0.5", 0.5), ("0", 60), ("x", 60)])
def test_recovery_poll_seconds_comes_from_the_environment(raw: str, expected: float):
    env = {"WAIAAS_RECOVERY_POLL_SECONDS": raw}
    assert Settings.from_env(env).recovery_poll_seconds == expected


def test_base_url_loses_its_trailing_slash():
    assert Settings.from_env({"WAIAAS_BASE_URL": "http://x:1/"}).base_url == "http://x:1"
