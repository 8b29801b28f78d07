"""The console's policy form holds every rule the API has, and never drops one it does not show."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.console.conftest import MASTER
from waiaas_daemon.serving.console import policyform

pytestmark = pytest.mark.anyio

OTHER_MINT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"  # not in the registry
RECIPIENT = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"


class _Form(HTMLParser):
    """The policy form's fields as a browser would post them."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._inside = False
        self._area: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = a.get("action", "").endswith("/policy")
        if not self._inside:
            return
        if tag == "input" and "name" in a:
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._area = a["name"]
            self.fields[self._area] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._inside = False
        elif tag == "textarea":
            self._area = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._area:
            self.fields[self._area] += data


async def _form(owner, wallet_id: str) -> dict[str, str]:
    page = await owner.http.get(f"/console/wallets/{wallet_id}")
    assert page.status_code == 200, page.text
    parser = _Form()
    parser.feed(page.text)
    return parser.fields


async def test_saving_the_form_unchanged_keeps_every_rule_of_the_api(harness, owner):
    wallet = await harness.wallet()
    [usdc] = [t for t in await harness.state.db.list_tokens("local") if t.symbol == "USDC"]
    document = {
        "instantMax": "100000000",
        "notifyMax": "200000000",
        "delayMax": "300000000",
        "dailyLimit": "1000000000",
        "monthlyLimit": "5000000000",
        "chatApprovalMax": "250000000",
        "delaySeconds": 900,
        "approvalTimeout": 7200,
        "maxSendsPerHour": 12,
        "autoSuspendAfterDenials": 3,
        "allowedRecipients": [RECIPIENT],
        "allowedTokens": [usdc.mint, OTHER_MINT],
        "tokens": {
            usdc.mint: {"instantMax": "1000000", "dailyLimit": "50000000", "chatApprovalMax": "5"},
            OTHER_MINT: {"monthlyLimit": "42"},
        },
        "x402": {
            "allowedHosts": ["api.example.com", "*.example.org"],
            "allowAnyHost": False,
            "maxPerRequest": {usdc.mint: "250000"},
            "networks": ["solana:localnet"],
        },
    }
    path = f"/v1/wallets/{wallet['id']}/policy"
    put = await harness.http.put(path, json=document, headers=MASTER)
    assert put.status_code == 200, put.text

    fields = await _form(owner, wallet["id"])
    assert fields[f"tokens.{usdc.mint}.instantMax"] == "1"  # in USDC, not base units
    assert fields[f"x402.maxPerRequest.{usdc.mint}"] == "0.25"
    assert fields[f"tokens.{OTHER_MINT}.monthlyLimit"] == "42"  # unknown decimals: base units
    assert fields["x402.allowAnyHost"] == "no"
    saved = await owner.post(f"/console/wallets/{wallet['id']}/policy", fields)
    assert saved.status_code == 303, saved.text
    after = (await harness.http.get(path, headers=MASTER)).json()
    assert after["version"] == 2
    assert after["policy"] == document

    fields = await _form(owner, wallet["id"])
    fields[f"tokens.{usdc.mint}.dailyLimit"] = "75.5"
    fields["x402.allowedHosts"] = "api.example.com"
    fields[f"x402.maxPerRequest.{usdc.mint}"] = ""
    saved = await owner.post(f"/console/wallets/{wallet['id']}/policy", fields)
    assert saved.status_code == 303, saved.text
    changed = (await harness.http.get(path, headers=MASTER)).json()["policy"]
    assert changed["tokens"][usdc.mint]["dailyLimit"] == "75500000"
    assert changed["x402"] == {
        "allowedHosts": ["api.example.com"],
        "allowAnyHost": False,
        "networks": ["solana:localnet"],
    }
    assert {k: v for k, v in changed.items() if k not in ("tokens", "x402")} == {
        k: v for k, v in document.items() if k not in ("tokens", "x402")
    }


async def test_a_token_field_error_is_shown_under_that_field_and_nothing_is_saved(harness, owner):
    wallet = await harness.wallet()
    [usdc] = [t for t in await harness.state.db.list_tokens("local") if t.symbol == "USDC"]
    fields = await _form(owner, wallet["id"])
    fields[f"tokens.{usdc.mint}.instantMax"] = "0.0000001"  # 7 decimals; USDC has 6
    fields[f"tokens.{usdc.mint}.notifyMax"] = "5"
    answer = await owner.post(f"/console/wallets/{wallet['id']}/policy", fields)
    assert answer.status_code == 400
    assert f'id="tokens.{usdc.mint}.instantMax-error"' in answer.text
    assert "has 7 decimals" in answer.text
    fields[f"tokens.{usdc.mint}.instantMax"] = "9"  # above notifyMax: the API's own rule
    answer = await owner.post(f"/console/wallets/{wallet['id']}/policy", fields)
    assert answer.status_code == 400
    assert f'id="tokens.{usdc.mint}.notifyMax-error"' in answer.text
    policy = await harness.http.get(f"/v1/wallets/{wallet['id']}/policy", headers=MASTER)
    assert policy.json()["version"] == 0


def test_a_rule_the_form_does_not_post_is_kept():
    current = {"x402": {"allowedHosts": ["a.example"]}, "usdDailyLimit": "100", "instantMax": "5"}
    document, errors = policyform.document_of({"instantMax": ""}, current)
    assert errors == {}
    assert document == {"x402": {"allowedHosts": ["a.example"]}, "usdDailyLimit": "100"}
