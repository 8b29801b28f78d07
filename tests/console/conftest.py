"""Console fixtures: the in-process daemon of tests/daemon with cookie-keeping clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.daemon.conftest import MASTER, PASSWORD, Harness, harness, settings

__all__ = ["MASTER", "PASSWORD", "Harness", "harness", "settings"]

ORIGIN = "http://127.0.0.1"
# What Chromium sends on the console's own form posts under Referrer-Policy: no-referrer.
SAME_ORIGIN = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Owner:
    """One browser's worth of console: its own cookie jar on the shared app."""

    http: httpx.AsyncClient

    async def sign_in(self, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            "/console/signin", data={"password": password}, headers=SAME_ORIGIN
        )

    async def csrf_token(self, path: str = "/console/") -> str:
        page = await self.http.get(path)
        assert page.status_code == 200, page.text
        match = CSRF_FIELD.search(page.text)
        assert match, page.text
        return match.group(1)

    async def post(
        self, path: str, data: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(
            path,
            data=data,
            headers={"Accept": "text/html", **(SAME_ORIGIN if headers is None else headers)},
        )


@pytest.fixture
async def owners(harness: Harness) -> AsyncIterator[list[Owner]]:
    """Two separate console users of the same daemon, not yet signed in."""
    transport = harness.http._transport
    async with (
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as first,
        httpx.AsyncClient(transport=transport, base_url=ORIGIN) as second,
    ):
        yield [Owner(first), Owner(second)]


@pytest.fixture
async def owner(owners: list[Owner]) -> Owner:
    signed = await owners[0].sign_in()
    assert signed.status_code == 303, signed.text
    return owners[0]
