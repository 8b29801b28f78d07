"""Settings from config.toml, overridden by ``WAIAAS_<SECTION>_<KEY>`` and by flags.

The daemon runs on the full Settings; the CLI reads only where the daemon
listens. Both read the same file through this module.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from waiaas_core.networks import EVM_LOCAL, EVM_NETWORKS, SOLANA_NETWORKS
from waiaas_core.paths import CONFIG_FILE

NETWORKS = SOLANA_NETWORKS
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
# SPEC 13: what the owner can be told about; `events = []` in [notifications] means all.
NOTIFICATION_EVENTS = (
    "approval_required",
    "tx_queued",
    "tx_notify",
    "tx_denied",
    "tx_failed",
    "wallet_suspended",
    "kill_switch",
    "master_lockout",
    "session_created",
    "test",
)
# [notifications] values that grant access to a channel: never logged, shown or echoed.
NOTIFICATION_SECRETS = (
    "webhook_url",
    "webhook_secret",
    "ntfy_url",
    "telegram_bot_token",
    "discord_webhook_url",
    "slack_webhook_url",
)
_URL_KEYS = (
    "webhook_url",
    "ntfy_url",
    "telegram_api_url",
    "discord_webhook_url",
    "slack_webhook_url",
)


class ConfigError(ValueError):
    """config.toml, an environment variable or a flag holds an unusable value."""


@dataclass(frozen=True)
class Settings:
    # [daemon]
    host: str = "127.0.0.1"
    port: int = 3100
    allow_remote: bool = False
    # The https:// origin a TLS reverse proxy or tunnel serves /mcp and OAuth on for hosted
    # agents (docs/remote-access.md); empty: loopback only.
    public_url: str = ""
    # [security]
    session_ttl: int = 86400
    min_session_ttl: int = 300
    max_session_ttl: int = 604800
    max_sessions_per_wallet: int = 5
    max_renewals: int = 30
    absolute_lifetime: int = 2592000
    renewal_grace: int = 60
    master_lockout_attempts: int = 5
    master_lockout_seconds: int = 300
    # [solana]
    network: str = "local"
    rpc_url: str = ""
    rpc_timeout: int = 3
    # [evm]: the default network of new EVM wallets, and per network (tables keyed by
    # network name) the JSON-RPC URLs tried in order, the owner's fee ceiling (wei per
    # gas), the confirmation depth; and when an unmined send is re-signed with a higher fee.
    # RPC URLs may carry an API key: kept out of repr().
    evm_network: str = EVM_LOCAL
    evm_rpc_urls: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)
    evm_max_fee_per_gas: dict[str, int] = field(default_factory=dict)
    evm_confirmations: dict[str, int] = field(default_factory=dict)
    evm_replace_after: int = 180
    # [notifications] (each channel off when empty); secrets kept out of repr()
    webhook_url: str = field(default="", repr=False)
    webhook_secret: str = field(default="", repr=False)
    ntfy_url: str = field(default="", repr=False)
    telegram_bot_token: str = field(default="", repr=False)
    telegram_chat_id: str = ""
    telegram_api_url: str = "https://api.telegram.org"
    discord_webhook_url: str = field(default="", repr=False)
    slack_webhook_url: str = field(default="", repr=False)
    events: tuple[str, ...] = ()
    # [storage] url: empty for the data dir's SQLite file; a postgresql:// URL for a
    # database several daemons share. It may hold a password: kept out of repr().
    storage_url: str = field(default="", repr=False)
    # How long a daemon on a shared database trusts the session and wallet rows it keeps
    # without hearing from the database; a revoke waits at most this for a paused daemon.
    row_cache_lease: float = 5.0
    # [prices]: where USD rules and the console's dollar values get their prices
    # (docs/configuration.md); an empty URL turns that source off.
    pyth_url: str = "https://hermes.pyth.network"
    coingecko_url: str = "https://api.coingecko.com"
    jupiter_url: str = "https://lite-api.jup.ag"
    pyth_api_key: str = field(default="", repr=False)
    coingecko_api_key: str = field(default="", repr=False)
    jupiter_api_key: str = field(default="", repr=False)
    price_max_age: int = 60
    price_timeout: int = 3
    # [oauth] (docs/remote-access.md): lifetimes of what the authorization server issues
    access_token_ttl: int = 900
    authorization_code_ttl: int = 60

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


SECTIONS: dict[str, tuple[str, ...]] = {
    "daemon": ("host", "port", "allow_remote", "public_url"),
    "security": (
        "session_ttl",
        "min_session_ttl",
        "max_session_ttl",
        "max_sessions_per_wallet",
        "max_renewals",
        "absolute_lifetime",
        "renewal_grace",
        "master_lockout_attempts",
        "master_lockout_seconds",
    ),
    "solana": ("network", "rpc_url", "rpc_timeout"),
    "evm": ("network", "rpc_urls", "max_fee_per_gas", "confirmations", "replace_after"),
    "notifications": (
        "webhook_url",
        "webhook_secret",
        "ntfy_url",
        "telegram_bot_token",
        "telegram_chat_id",
        "telegram_api_url",
        "discord_webhook_url",
        "slack_webhook_url",
        "events",
    ),
    "storage": ("url", "row_cache_lease"),
    "prices": (
        "pyth_url",
        "coingecko_url",
        "jupiter_url",
        "pyth_api_key",
        "coingecko_api_key",
        "jupiter_api_key",
        "max_age",
        "timeout",
    ),
    "oauth": ("access_token_ttl", "authorization_code_ttl"),
}
# A key whose Settings field has another name: (section, key) -> field.
_FIELDS: dict[tuple[str, str], str] = {
    ("storage", "url"): "storage_url",
    ("prices", "max_age"): "price_max_age",
    ("prices", "timeout"): "price_timeout",
    ("evm", "network"): "evm_network",
    ("evm", "rpc_urls"): "evm_rpc_urls",
    ("evm", "max_fee_per_gas"): "evm_max_fee_per_gas",
    ("evm", "confirmations"): "evm_confirmations",
    ("evm", "replace_after"): "evm_replace_after",
}
# [evm] tables: network name -> value.
_TABLES = ("evm_rpc_urls", "evm_max_fee_per_gas", "evm_confirmations")
# [prices] keys that grant access to a paid API: never logged, shown or echoed.
PRICE_SECRETS = ("pyth_api_key", "coingecko_api_key", "jupiter_api_key")
PRICE_URLS = ("pyth_url", "coingecko_url", "jupiter_url")
STORAGE_SCHEMES = ("postgresql://", "postgres://")

_TYPES = {f.name: type(f.default) for f in fields(Settings) if f.name not in _TABLES}
# Keys that may be zero; every other integer must be positive.
_MAY_BE_ZERO = {"port", "renewal_grace", "max_renewals"}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

CONFIG_TEMPLATE = """\
# waiaas configuration. Every key is optional; the values shown are the defaults.
# Environment variables WAIAAS_<SECTION>_<KEY> override this file
# (for example WAIAAS_DAEMON_PORT=3200); command line flags override both.

[daemon]
# host = "127.0.0.1"        # a non-loopback host is refused unless allow_remote = true
# port = 3100
# allow_remote = false
# public_url = ""           # https://wallet.example.com: where a TLS proxy serves /mcp and
#                           # OAuth to hosted agents (docs/remote-access.md); empty: none

[security]
# session_ttl = 86400           # default session lifetime, seconds
# min_session_ttl = 300         # lowest expiresIn accepted; lower it only for testing
# max_sessions_per_wallet = 5   # active (unexpired, unrevoked) sessions
# max_renewals = 30
# absolute_lifetime = 2592000   # 30 days from creation; renewals never pass it
# renewal_grace = 60            # seconds the previous token still works after a renewal
# master_lockout_attempts = 5   # failed master passwords before a lockout
# master_lockout_seconds = 300

[solana]
# network = "local"   # local | devnet | testnet | mainnet
# rpc_url = ""        # overrides the public endpoint of the network
# rpc_timeout = 3     # seconds per JSON-RPC attempt; 3 retries follow a failure

[evm]
# network = "evm-local"   # the default network of new EVM wallets (wallet create --chain evm)
# replace_after = 180     # seconds before an unmined send is re-signed with a higher fee
# [evm.rpc_urls]          # per network, tried in order (failover); else the public endpoint
# base = ["https://mainnet.base.org", "https://base-rpc.publicnode.com"]
# [evm.max_fee_per_gas]   # per network, wei per gas: a send never offers more
# ethereum = 50000000000  # 50 gwei
# [evm.confirmations]     # per network, blocks deep before a send is CONFIRMED
# ethereum = 3

[notifications]     # every channel is off while its keys are empty
# webhook_url = ""      # POST JSON {id, type, at, walletId?, data}; header X-Waiaas-Event-Id
# webhook_secret = ""   # X-Waiaas-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">
# ntfy_url = ""         # an ntfy topic URL (ntfy.sh or self-hosted)
# telegram_bot_token = ""
# telegram_chat_id = ""
# telegram_api_url = "https://api.telegram.org"
# discord_webhook_url = ""
# slack_webhook_url = ""
# events = []           # empty: all; else a subset of approval_required, tx_queued,
#                       # tx_notify, tx_denied, tx_failed, wallet_suspended, kill_switch,
#                       # master_lockout, session_created, test

[storage]
# url = ""   # empty: SQLite in the data dir (one daemon); or a PostgreSQL database that
#            # several daemons share: "postgresql://user:password@host:5432/waiaas"
#            # (needs a JSON-RPC chain: network other than local, or rpc_url set)
# row_cache_lease = 5.0   # seconds a daemon keeps session rows without hearing from
#                         # the database; a revoke waits at most this for a paused daemon

[prices]     # USD rules (docs/policy.md), the console's dollar values; empty URL: source off
# pyth_url = "https://hermes.pyth.network"      # Pyth Hermes, asked first
# coingecko_url = "https://api.coingecko.com"   # then CoinGecko's /api/v3/simple/price
# jupiter_url = "https://lite-api.jup.ag"       # then Jupiter's /price/v3 (Solana mints)
# pyth_api_key = ""        # sent as Authorization: Bearer <key>
# coingecko_api_key = ""   # sent as x-cg-demo-api-key (x-cg-pro-api-key on pro-api hosts)
# jupiter_api_key = ""     # sent as x-api-key
# max_age = 60             # seconds a price may be old before it is no longer used
# timeout = 3              # seconds per request to a price source
[oauth]     # hosted agents reaching /mcp through OAuth 2.1 (docs/remote-access.md)
# access_token_ttl = 900        # seconds an access token works; refresh tokens rotate
# authorization_code_ttl = 60   # seconds a code may wait for its exchange
"""


def load_settings(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """File, then environment, then flags (``None`` flag values are ignored)."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    values.update(_from_file(data_dir / CONFIG_FILE))
    values.update(_from_env(env))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    settings = Settings(**{k: _coerce(k, v) for k, v in values.items()})
    _validate(settings)
    return settings


def _from_file(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, table in raw.items():
        if section not in SECTIONS or not isinstance(table, dict):
            raise ConfigError(f"{path}: unknown section [{section}]")
        for key, value in table.items():
            if key not in SECTIONS[section]:
                raise ConfigError(f"{path}: unknown key {key!r} in [{section}]")
            values[_FIELDS.get((section, str(key)), str(key))] = value
    return values


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for section, keys in SECTIONS.items():
        for key in keys:
            name = f"WAIAAS_{section.upper()}_{key.upper()}"
            field_name = _FIELDS.get((section, key), key)
            if name in env:
                values[field_name] = env[name]
    return values


def _coerce(key: str, value: Any) -> Any:
    if key in _TABLES:
        return _coerce_table(key, value)
    kind = _TYPES[key]
    if kind is tuple:
        return _coerce_list(key, value)
    if key in (*NOTIFICATION_SECRETS, *PRICE_SECRETS, "storage_url") and not isinstance(value, str):
        # The value is a secret, even when mistyped: name the key only.
        raise ConfigError(f"{key} must be a string")
    if kind is bool:
        if isinstance(value, bool):
            return value
        word = str(value).lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    if kind is int:
        try:
            if isinstance(value, bool | float):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a whole number, not {value!r}") from None
        if number < 0 or (number == 0 and key not in _MAY_BE_ZERO):
            raise ConfigError(f"{key} must be positive, not {number}")
        return number
    if kind is float:
        try:
            if isinstance(value, bool):
                raise ValueError
            seconds = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a number, not {value!r}") from None
        if not 0.1 <= seconds <= 3600:  # also refuses nan and inf
            raise ConfigError(f"{key} must lie between 0.1 and 3600, not {value!r}")
        return seconds
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, not {value!r}")
    return value


def _coerce_table(key: str, value: Any) -> dict[str, Any]:
    """An [evm.*] table: EVM network name -> URLs (a list, or one string) or a positive integer.

    From the environment it is JSON (``WAIAAS_EVM_RPC_URLS='{"base": ["https://..."]}'``).
    """
    where = key.removeprefix("evm_")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(
                f"[evm] {where} must be a table (JSON from the environment)"
            ) from None
    if not isinstance(value, dict):
        raise ConfigError(f"[evm] {where} must be a table of network = value")
    table: dict[str, Any] = {}
    for network, item in value.items():
        if network not in EVM_NETWORKS:
            raise ConfigError(
                f"[evm.{where}]: unknown network {network!r}; known: {', '.join(EVM_NETWORKS)}"
            )
        table[network] = _table_value(key, f"[evm.{where}] {network}", item)
    return table


def _table_value(key: str, where: str, item: Any) -> Any:
    if key == "evm_rpc_urls":
        urls = [item] if isinstance(item, str) else item
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ConfigError(f"{where} must be a URL or a list of URLs")
        if not all(u.startswith(("http://", "https://")) for u in urls):
            # A URL may carry an API key: the message never quotes it.
            raise ConfigError(f"{where}: every URL must start with http:// or https://")
        return tuple(urls)
    if isinstance(item, bool) or not isinstance(item, int | str):
        raise ConfigError(f"{where} must be a positive whole number")
    try:
        number = int(item)
    except ValueError:
        raise ConfigError(f"{where} must be a positive whole number, not {item!r}") from None
    if number <= 0:
        raise ConfigError(f"{where} must be positive, not {number}")
    return number


def _coerce_list(key: str, value: Any) -> tuple[str, ...]:
    """A TOML array of strings, or (from the environment) a comma-separated string."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ConfigError(f"{key} must be a list of strings, not {value!r}")
    unknown = [item for item in items if item not in NOTIFICATION_EVENTS]
    if unknown:
        raise ConfigError(
            f"{key}: unknown event {unknown[0]!r}; known: {', '.join(NOTIFICATION_EVENTS)}"
        )
    return tuple(dict.fromkeys(items))


def _validate_notifications(settings: Settings) -> None:
    for key in _URL_KEYS:
        url = getattr(settings, key)
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key} must be an http:// or https:// URL")
    # A bot token alone is enough: the owner chat can be linked with `waiaas telegram link`.
    if settings.telegram_chat_id and not settings.telegram_bot_token:
        raise ConfigError("telegram_chat_id needs telegram_bot_token")


def _validate(settings: Settings) -> None:
    if settings.network not in NETWORKS:
        raise ConfigError(f"network must be one of {', '.join(NETWORKS)}, not {settings.network!r}")
    if settings.evm_network not in EVM_NETWORKS:
        raise ConfigError(
            f"[evm] network must be one of {', '.join(EVM_NETWORKS)}, not {settings.evm_network!r}"
        )
    if settings.port > 65535:
        raise ConfigError(f"port must be at most 65535, not {settings.port}")
    if settings.host not in LOOPBACK_HOSTS and not settings.allow_remote:
        raise ConfigError(
            f"host {settings.host!r} is not a loopback address; set allow_remote = true "
            "in [daemon] to listen on it (anyone who can reach it can try the master password)"
        )
    if settings.min_session_ttl > settings.max_session_ttl:
        raise ConfigError("min_session_ttl must not exceed max_session_ttl")
    if not settings.min_session_ttl <= settings.session_ttl <= settings.max_session_ttl:
        raise ConfigError("session_ttl must lie between min_session_ttl and max_session_ttl")
    _validate_notifications(settings)
    _validate_storage(settings)
    _validate_prices(settings)
    _validate_public_url(settings.public_url)


def _validate_prices(settings: Settings) -> None:
    for key in PRICE_URLS:
        url = getattr(settings, key)
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{key} in [prices] must be empty or an http:// or https:// URL")


def _validate_storage(settings: Settings) -> None:
    # The URL may hold a password: the message never quotes it.
    if settings.storage_url and not settings.storage_url.startswith(STORAGE_SCHEMES):
        raise ConfigError(
            "url in [storage] must be empty (SQLite in the data dir) or a postgresql:// URL"
        )


def _validate_public_url(url: str) -> None:
    """An origin only: https (http for a loopback name, for testing), no path, query or user."""
    if not url:
        return
    scheme, sep, rest = url.partition("://")
    host = rest.rsplit("@", 1)[-1].split(":")[0] if rest and not rest.startswith("[") else ""
    loopback = rest.startswith(("127.0.0.1", "localhost", "[::1]"))
    bad = (
        not sep
        or scheme not in ("https", "http")
        or (scheme == "http" and not loopback)
        or not rest
        or any(c in rest for c in "/?#@ \\")
        or (not rest.startswith("[") and not host)
    )
    if bad:
        raise ConfigError(
            "public_url must be an origin such as https://wallet.example.com (no path); "
            "http is accepted for a loopback name only"
        )


def daemon_base_url(data_dir: Path, env: Mapping[str, str] | None = None) -> str:
    """Where the daemon listens according to config.toml (and its env overrides)."""
    settings = load_settings(data_dir, env)
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    return Settings(host=host, port=settings.port, allow_remote=True).base_url
