"""[daemon] public_url: an https origin for hosted agents; [oauth] lifetimes."""

from __future__ import annotations

import pytest

from waiaas_core.config import ConfigError, load_settings


@pytest.mark.parametrize(
    "url",
    ["https://wallet.example.com", "https://wallet.example.com:8443", "http://127.0.0.1:3100", ""],
)
def test_public_url_takes_an_origin(tmp_path, url):
    settings = load_settings(tmp_path, env={"WAIAAS_DAEMON_PUBLIC_URL": url})
    assert settings.public_url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://wallet.example.com",
        "https://wallet.example.com/",
        "https://wallet.example.com/mcp",
        "https://user@wallet.example.com",
        "https://wallet.example.com?x=1",
        "wallet.example.com",
        "ftp://wallet.example.com",
        "https://",
    ],
)
def test_public_url_refuses_anything_but_an_https_origin(tmp_path, url):
    with pytest.raises(ConfigError, match="public_url"):
        load_settings(tmp_path, env={"WAIAAS_DAEMON_PUBLIC_URL": url})


def test_oauth_lifetimes_come_from_their_section(tmp_path):
    (tmp_path / "config.toml").write_text("[oauth]\naccess_token_ttl = 300\n")
    settings = load_settings(tmp_path, env={})
    assert (settings.access_token_ttl, settings.authorization_code_ttl) == (300, 60)
