"""A small Telegram Bot API client: ``call(method, **params)`` -> ``result``.

The bot token is part of every URL, so no error raised here quotes a URL or
an httpx message: only the method, the HTTP status and Telegram's own
description (which never repeats the token).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx


class TelegramError(Exception):
    """Telegram refused the call (``ok: false``); ``retry`` when it may work later."""

    def __init__(self, method: str, status: int, description: str, *, retry: bool) -> None:
        super().__init__(f"{method}: HTTP {status}: {description[:200]}")
        self.method = method
        self.status = status
        self.retry = retry


# The longest ``retry_after`` taken as said: a larger one is read as this (a garbled answer
# must not silence the bot for days).
MAX_RETRY_AFTER = 3600.0


class TelegramUnavailable(Exception):
    """Telegram could not be reached, timed out or answered 5xx/429: try again later.

    ``retry_after`` (seconds) when Telegram said how long to wait (a 429's
    ``parameters.retry_after``): the caller waits exactly that, not its backoff.
    """

    def __init__(self, method: str, why: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{method}: {why}")
        self.method = method
        self.retry_after = retry_after


class BotApi:
    def __init__(self, client: httpx.AsyncClient, api_url: str, token: str) -> None:
        self._client = client
        self._base = f"{api_url.rstrip('/')}/bot{token}/"

    async def call(self, method: str, params: dict[str, Any], *, wait: float = 10.0) -> Any:
        """POST ``params`` as JSON; Telegram's ``result``. ``wait`` bounds the whole call."""
        try:
            with anyio.fail_after(wait + 5):
                response = await self._client.post(self._base + method, json=params, timeout=wait)
        except TimeoutError:
            raise TelegramUnavailable(method, "Timeout") from None
        except httpx.HTTPError as exc:
            # The class name only: httpx messages may quote the URL, and it holds the token.
            raise TelegramUnavailable(method, type(exc).__name__) from None
        if response.status_code == 429:
            told = _retry_after(response)
            why = "HTTP 429" if told is None else f"HTTP 429, retry after {told:g} s"
            raise TelegramUnavailable(method, why, retry_after=told)
        if response.status_code >= 500:
            raise TelegramUnavailable(method, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TelegramUnavailable(method, "an answer that is not JSON") from None
        if not isinstance(body, dict) or not body.get("ok"):
            description = str(body.get("description", "")) if isinstance(body, dict) else ""
            # 409: another getUpdates or a webhook on this token; it may go away.
            raise TelegramError(
                method, response.status_code, description, retry=response.status_code == 409
            )
        return body.get("result")

    async def get_updates(self, offset: int, timeout: float) -> list[dict[str, Any]]:
        """Long poll: Telegram holds the call up to ``timeout`` seconds for a new update."""
        params = {
            "offset": offset,
            "timeout": int(timeout),
            "allowed_updates": ["message", "callback_query"],
        }
        result = await self.call("getUpdates", params, wait=timeout + 10)
        return [
            u for u in result or [] if isinstance(u, dict) and isinstance(u.get("update_id"), int)
        ]


def _retry_after(response: httpx.Response) -> float | None:
    """A 429's ``parameters.retry_after`` (Telegram's flood control), else None."""
    try:
        body = response.json()
        wait = body["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
        return None
    return float(min(wait, MAX_RETRY_AFTER))
