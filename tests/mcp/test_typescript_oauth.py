"""The official TypeScript SDK's OAuth client against a real daemon's /mcp.

The script (typescript/oauth_client.mjs) registers, prints the authorization URL and
waits; headless Chromium signs in to the console and allows (read only here); the
URL the browser is sent back to goes to the script, which finishes the flow, calls
the tools, and refreshes when its access token is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route, sync_playwright

from tests.mcp.test_typescript_client import HERE, ts_client  # noqa: F401 (a fixture)
from tests.support.daemon import Daemon

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CALLBACK = "http://127.0.0.1:47914/callback"


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


def consent_read_only(browser: Browser, daemon: Daemon, url: str) -> str:
    """The owner's browser: the callback URL it is sent back to."""
    context = browser.new_context()
    page = context.new_page()
    caught: list[str] = []

    def catch(route: Route) -> None:
        caught.append(route.request.url)
        route.fulfill(status=200, body="done", content_type="text/plain")

    page.route(CALLBACK + "**", catch)
    page.goto(url)
    page.get_by_label("Master password").fill(daemon.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="An agent asks for a wallet").wait_for()
    assert "TS Agent" in page.locator("main").inner_text()
    page.get_by_label("Read only").check()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(CALLBACK + "**")
    context.close()
    return caught[-1]


def test_the_typescript_sdk_connects_through_oauth_and_refreshes(
    daemon,
    browser,
    ts_client,  # noqa: F811
):
    script = ts_client.parent / "oauth_client.mjs"
    shutil.copy(HERE / "oauth_client.mjs", script)
    wallet = daemon.create_wallet("ts-hosted")
    process = subprocess.Popen(
        ["node", str(script)],
        env={**os.environ, "MCP_URL": f"{daemon.base_url}/mcp", "CALLBACK_URL": CALLBACK},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None and process.stdin is not None
        first = process.stdout.readline()
        assert first.startswith("AUTHORIZE "), first + process.stderr.read()  # type: ignore[union-attr]
        back = consent_read_only(browser, daemon, first.split(" ", 1)[1].strip())
        out, err = process.communicate(back + "\n", timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    seen = json.loads(out.strip().splitlines()[-1])
    assert "send_token" in seen["tools"]
    assert seen["address"]["isError"] is False
    assert json.loads(seen["address"]["content"][0]["text"])["address"] == wallet["address"]
    assert seen["balance"]["isError"] is False
    assert seen["scope"] == "wallet:read"
    assert seen["refreshes"] == [True]
    [grant] = daemon.api("GET", "/v1/sessions").json()["items"]
    assert grant["label"] == "oauth:TS Agent" and grant["status"] == "ACTIVE"
