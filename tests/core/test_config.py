import pytest

from waiaas_core.config import CONFIG_TEMPLATE, ConfigError, daemon_base_url, load_settings


def test_defaults_without_a_file(tmp_path):
    settings = load_settings(tmp_path, env={})
    assert (settings.host, settings.port, settings.network) == ("127.0.0.1", 3100, "local")
    assert settings.session_ttl == 86400 and settings.renewal_grace == 60


def test_template_parses_to_the_defaults(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG_TEMPLATE)
    assert load_settings(tmp_path, env={}) == load_settings(tmp_path / "none", env={})


def test_file_then_env_then_flags(tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nport = 4000\n[security]\nmax_renewals = 3\n")
    assert load_settings(tmp_path, env={}).port == 4000
    env = {"WAIAAS_DAEMON_PORT": "5000", "WAIAAS_SECURITY_RENEWAL_GRACE": "5"}
    settings = load_settings(tmp_path, env=env)
    assert (settings.port, settings.max_renewals, settings.renewal_grace) == (5000, 3, 5)
    assert load_settings(tmp_path, env=env, overrides={"port": 6000, "host": None}).port == 6000


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[daemon\n", "not valid TOML"),
        ("[nope]\n", "unknown section"),
        ("[daemon]\nprt = 1\n", "unknown key"),
        ("[daemon]\nport = 'x'\n", "whole number"),
        ("[security]\nsession_ttl = -5\n", "positive"),
        ("[solana]\nnetwork = 'moon'\n", "network"),
        ("[daemon]\nhost = '0.0.0.0'\n", "allow_remote"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, words):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_settings(tmp_path, env={})


def test_remote_host_allowed_when_asked(tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nhost = '0.0.0.0'\nallow_remote = true\n")
    assert load_settings(tmp_path, env={}).host == "0.0.0.0"
    assert daemon_base_url(tmp_path, env={}) == "http://127.0.0.1:3100"


def test_base_url_brackets_ipv6(tmp_path):
    assert daemon_base_url(tmp_path, env={"WAIAAS_DAEMON_HOST": "::1"}) == "http://[::1]:3100"


def test_rpc_timeout_is_a_solana_key(tmp_path):
    assert load_settings(tmp_path, env={}).rpc_timeout == 3
    (tmp_path / "config.toml").write_text("[solana]\nrpc_timeout = 8\n")
    assert load_settings(tmp_path, env={}).rpc_timeout == 8
    assert load_settings(tmp_path, env={"WAIAAS_SOLANA_RPC_TIMEOUT": "5"}).rpc_timeout == 5


def test_notifications_are_off_by_default(tmp_path):
    settings = load_settings(tmp_path, env={})
    assert settings.webhook_url == "" and settings.events == ()
    assert settings.telegram_api_url == "https://api.telegram.org"


def test_notifications_from_file_and_env(tmp_path):
    (tmp_path / "config.toml").write_text(
        "[notifications]\nwebhook_url = 'https://hooks.example/x'\nwebhook_secret = 's3'\n"
        "events = ['tx_denied', 'approval_required']\n"
    )
    settings = load_settings(tmp_path, env={})
    assert settings.webhook_url == "https://hooks.example/x" and settings.webhook_secret == "s3"
    assert settings.events == ("tx_denied", "approval_required")
    env = {
        "WAIAAS_NOTIFICATIONS_EVENTS": "test, kill_switch",
        "WAIAAS_NOTIFICATIONS_TELEGRAM_BOT_TOKEN": "123:abc",
        "WAIAAS_NOTIFICATIONS_TELEGRAM_CHAT_ID": "42",
    }
    settings = load_settings(tmp_path, env=env)
    assert settings.events == ("test", "kill_switch")
    assert (settings.telegram_bot_token, settings.telegram_chat_id) == ("123:abc", "42")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[notifications]\nwebhok_url = 'x'\n", "unknown key"),
        ("[notifications]\nevents = ['tx_sent']\n", "unknown event 'tx_sent'"),
        ("[notifications]\nevents = [1]\n", "list of strings"),
        ("[notifications]\nntfy_url = 'ntfy.sh/topic'\n", "ntfy_url must be an http"),
        ("[notifications]\ntelegram_chat_id = '42'\n", "needs telegram_bot_token"),
    ],
)
def test_bad_notifications_config_is_a_clear_error(tmp_path, text, words):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_settings(tmp_path, env={})


def test_a_notification_secret_is_never_echoed(tmp_path):
    (tmp_path / "config.toml").write_text(
        "[notifications]\nslack_webhook_url = 'hooks.slack.com/services/T0/B0/SECRETPART'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env={})
    assert "SECRETPART" not in str(caught.value)
    (tmp_path / "config.toml").write_text("[notifications]\nwebhook_secret = 987654321\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env={})
    assert "987654321" not in str(caught.value)
    settings = load_settings(
        tmp_path / "none",
        env={
            "WAIAAS_NOTIFICATIONS_WEBHOOK_SECRET": "SECRETPART",
            "WAIAAS_NOTIFICATIONS_DISCORD_WEBHOOK_URL": "https://d.example/SECRETPART",
        },
    )
    assert "SECRETPART" not in repr(settings)


def test_storage_url_from_the_file_and_the_environment(tmp_path):
    (tmp_path / "config.toml").write_text('[storage]\nurl = "postgresql://a:pw@h/db"\n')
    assert load_settings(tmp_path, env={}).storage_url == "postgresql://a:pw@h/db"
    env = {"WAIAAS_STORAGE_URL": "postgres://b@h/other"}
    settings = load_settings(tmp_path, env=env)
    assert settings.storage_url == "postgres://b@h/other"
    assert "other" not in repr(settings)  # it may hold a password
    assert load_settings(tmp_path / "none", env={}).storage_url == ""


def test_a_storage_url_that_is_not_postgresql_is_refused_without_quoting_it(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path, env={"WAIAAS_STORAGE_URL": "mysql://u:hunter2@h/db"})
    assert "postgresql://" in str(caught.value) and "hunter2" not in str(caught.value)
