"""A small httpx client for the daemon's REST API, speaking in WaiaasError.

An error body becomes ``WaiaasError`` (code, message, hint, status); a daemon
that cannot be reached becomes ``DaemonUnreachable``, a one-line ClickException
that names the URL and how to start the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click
import httpx

from waiaas_core.errors import WaiaasError

MASTER_HEADER = "X-Master-Password"
DEFAULT_TIMEOUT = 30.0


class DaemonUnreachable(click.ClickException):
    """No daemon answered at the base URL (refused, timed out, not HTTP, bad URL)."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(
            f"cannot reach the waiaas daemon at {base_url} ({reason}). "
            "Start it with `waiaas-daemon serve`, or point --base-url / $WAIAAS_BASE_URL at it."
        )


class DaemonClient:
    """Requests against one daemon; masterAuth asks ``password()`` once, when first needed."""

    def __init__(
        self,
        base_url: str,
        password: Callable[[], str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._password = password
        # The daemon is local: a proxy from the environment must never see the password.
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, trust_env=False
        )

    def close(self) -> None:
        self._http.close()

    def health(self) -> dict[str, Any]:
        return self.request("GET", "/health")

    def request(
        self,
        method: str,
        path: str,
        *,
        master: bool = False,
        token: str | None = None,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """``master`` sends the master password; ``token`` a session token (sessionAuth)."""
        headers = dict(headers or {})
        if master:
            headers[MASTER_HEADER] = self._master_password()
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = self._http.request(method, path, json=json, params=params, headers=headers)
        except httpx.TimeoutException:
            raise DaemonUnreachable(self.base_url, "no answer in time") from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol):
            raise DaemonUnreachable(self.base_url, "not a valid http:// URL") from None
        except httpx.TransportError as exc:
            raise DaemonUnreachable(self.base_url, _reason(exc)) from None
        return _decode(response, self.base_url)

    def _master_password(self) -> str:
        if self._password is None:
            raise click.ClickException("this command needs the master password")
        return self._password()


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unknown"
    return "the connection failed"


def _decode(response: httpx.Response, base_url: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and body is not None:
        return body
    if not (isinstance(body, dict) and isinstance(body.get("code"), str)):
        # Something answers on that port, but it is not a waiaas daemon.
        raise DaemonUnreachable(
            base_url, f"it answered HTTP {response.status_code}, not as a waiaas daemon"
        )
    error = WaiaasError.from_body(body, response.status_code)
    retry_after = response.headers.get("Retry-After", "").strip()
    if retry_after.isdigit() and len(retry_after) <= 12:
        # Every 429 says how long to wait, even when the daemon sent a hint of its own.
        error.retry_after = int(retry_after)
        wait = f"Try again in {retry_after} s."
        if not error.hint:
            error.hint = wait
        elif "try again" not in error.hint.lower():
            # The daemon's own hint may say the time already: once is enough.
            error.hint = f"{error.hint.rstrip('.')}. {wait}"
    raise error
