"""What a hosted agent may reach through ``public_url``, and the origin a request came by.

Behind a TLS proxy the daemon sees the public name in ``Host``. That name is
accepted on the public paths only (``/mcp``, the OAuth metadata, ``/oauth/*``):
the console and the owner's routes answer ``INVALID_HOST`` to it even when a
proxy forwards everything (docs/remote-access.md).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Scope

from waiaas_core.config import Settings

MCP_PATH = "/mcp"
PRM_PATH = "/.well-known/oauth-protected-resource"
METADATA_PATH = "/.well-known/oauth-authorization-server"


def public_host(settings: Settings) -> str | None:
    """The ``Host`` a proxy sends for ``public_url`` (lowercase), None without one."""
    if not settings.public_url:
        return None
    parts = urlsplit(settings.public_url)
    default = {"https": 443, "http": 80}[parts.scheme]
    host = parts.netloc.lower()
    return host.removesuffix(f":{default}") if parts.port == default else host


def is_public_path(path: str) -> bool:
    return path in (MCP_PATH, PRM_PATH, PRM_PATH + MCP_PATH, METADATA_PATH) or path.startswith(
        "/oauth/"
    )


def _host_header(scope: Scope) -> str:
    return next((v for k, v in scope["headers"] if k == b"host"), b"").decode("latin-1").lower()


def came_public(scope: Scope, settings: Settings) -> bool:
    host = public_host(settings)
    return host is not None and _host_header(scope) in (host, with_default_port(settings))


def with_default_port(settings: Settings) -> str:
    parts = urlsplit(settings.public_url)
    port = parts.port or {"https": 443, "http": 80}[parts.scheme]
    return f"{(parts.hostname or '').lower()}:{port}"


def origin(scope: Scope, settings: Settings) -> str:
    """The issuer and resource origin for this request: ``public_url`` when it came by
    the public name, else the loopback origin the client used (the Host guard has
    already refused any other name)."""
    if came_public(scope, settings):
        return settings.public_url.rstrip("/")
    return f"http://{_host_header(scope)}"


def resource(scope: Scope, settings: Settings) -> str:
    return origin(scope, settings) + MCP_PATH


def resource_metadata_url(scope: Scope, settings: Settings) -> str:
    return origin(scope, settings) + PRM_PATH + MCP_PATH
