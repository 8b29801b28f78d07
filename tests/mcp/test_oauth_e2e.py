"""The official MCP Python SDK's OAuth client against a real daemon, the owner's consent
clicked in real headless Chromium.

The SDK finds the daemon's metadata from the 401, registers itself (RFC 7591), sends
the browser to the authorization endpoint; Chromium signs in to the console, chooses
the wallet and the limits and clicks Allow; the SDK exchanges the code (PKCE) and calls
the tools with its access token, refreshes it, and a replayed refresh token ends the
grant. The browser never reaches the client's callback: Playwright catches the
navigation there, as a native app's loopback listener would.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from playwright.async_api import Browser, Page, Route, async_playwright

from tests.support.daemon import FAST_SECURITY, Daemon, running_daemon

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CALLBACK = "http://127.0.0.1:47913/callback"
RECIPIENT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        await browser.close()


@pytest.fixture
def daemon(tmp_path) -> Any:
    with running_daemon(tmp_path / "data", config={"security": FAST_SECURITY}) as running:
        yield running


Consent = Callable[[Page], Awaitable[None]]


async def allow_spending(page: Page, max_per_tx: str = "0.5") -> None:
    await page.get_by_label("Max per send (SOL)").fill(max_per_tx)
    await page.get_by_label("Read and spend").check()
    await page.get_by_role("button", name="Allow").click()


class Owner:
    """The owner's browser: follows the authorization URL, signs in, answers the request."""

    def __init__(self, browser: Browser, daemon: Daemon, answer: Consent = allow_spending):
        self.browser = browser
        self.daemon = daemon
        self.answer = answer
        self.callbacks: list[str] = []
        self.seen: list[str] = []

    async def redirect(self, url: str) -> None:
        context = await self.browser.new_context()
        page = await context.new_page()

        async def caught(route: Route) -> None:
            self.callbacks.append(route.request.url)
            await route.fulfill(status=200, body="done", content_type="text/plain")

        await page.route(CALLBACK + "**", caught)
        await page.goto(url)
        await page.get_by_label("Master password").fill(self.daemon.password)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name="An agent asks for a wallet").wait_for()
        self.seen.append(await page.locator("main").inner_text())
        await self.answer(page)
        await page.wait_for_url(CALLBACK + "**")
        await context.close()

    async def callback(self) -> AuthorizationCodeResult:
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.callbacks[-1]).query).items()}
        if "error" in query:
            raise RuntimeError(f"authorization refused: {query['error']}")
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )


def provider(daemon: Daemon, owner: Owner, storage: MemoryStorage) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=f"{daemon.base_url}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="SDK Agent",
            redirect_uris=[CALLBACK],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=owner.redirect,
        callback_handler=owner.callback,
    )


@asynccontextmanager
async def connected(auth: OAuthClientProvider, url: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(auth=auth, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def text_of(result: Any) -> Any:
    return json.loads(result.content[0].text)


async def test_the_python_sdk_connects_through_oauth_with_the_owners_consent(daemon, browser):
    wallet = daemon.create_wallet("hosted")
    daemon.api("POST", f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "2000000000"})
    owner = Owner(browser, daemon)
    storage = MemoryStorage()
    auth = provider(daemon, owner, storage)
    async with connected(auth, f"{daemon.base_url}/mcp") as session:
        address = text_of(await session.call_tool("get_address", {}))
        assert address["address"] == wallet["address"]
        # The owner saw who asked, where the answer goes and what it wants.
        assert "SDK Agent" in owner.seen[0] and "127.0.0.1:47913" in owner.seen[0]
        assert "wallet:spend" in owner.seen[0]
        # The owner's limit binds the agent: over it refused, under it sent.
        over = await session.call_tool("send_token", {"to": RECIPIENT, "amount": "600000000"})
        assert over.is_error and "CONSTRAINT_VIOLATED" in over.content[0].text
        sent = await session.call_tool("send_token", {"to": RECIPIENT, "amount": "1000"})
        assert not sent.is_error, sent

        # The access token runs out (the client's clock says so): the SDK refreshes it.
        first = storage.tokens
        assert first is not None and first.refresh_token
        auth.context.token_expiry_time = 1.0  # long past
        balance = text_of(await session.call_tool("get_balance", {}))
        assert int(balance["balance"]) > 0
        second = storage.tokens
        assert second is not None and second.refresh_token != first.refresh_token

    sessions = daemon.api("GET", "/v1/sessions").json()["items"]
    [grant] = [s for s in sessions if s["label"] == "oauth:SDK Agent"]
    assert grant["status"] == "ACTIVE"

    # Someone replays the first refresh token: the whole grant is revoked.
    with httpx.Client(base_url=daemon.base_url) as http:
        replay = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first.refresh_token,
                "client_id": storage.client.client_id,  # type: ignore[union-attr]
            },
        )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    sessions = daemon.api("GET", "/v1/sessions").json()["items"]
    assert [s["status"] for s in sessions if s["id"] == grant["id"]] == ["REVOKED"]
    audit = daemon.api("GET", "/v1/audit", params={"action": "oauth.refresh_reuse"}).json()
    assert audit["items"][0]["sessionId"] == grant["id"]


async def test_a_denied_consent_gives_the_sdk_no_token(daemon, browser):
    daemon.create_wallet("kept")

    async def deny(page: Page) -> None:
        await page.get_by_role("button", name="Deny").click()

    owner = Owner(browser, daemon, deny)
    auth = provider(daemon, owner, MemoryStorage())
    with pytest.raises(Exception) as refused:
        async with connected(auth, f"{daemon.base_url}/mcp"):
            pass
    assert "access_denied" in repr(refused.value) or "access_denied" in str(refused.value.__cause__)
    assert "error=access_denied" in owner.callbacks[0]
    assert daemon.api("GET", "/v1/sessions").json()["items"] == []
