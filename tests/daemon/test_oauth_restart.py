"""A restart keeps OAuth grants: a real daemon, the owner's consent through the console's
own routes, then a stop and a start on the same data dir; the access token still
serves /mcp, the refresh token still rotates, and a revocation still ends both."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.daemon.test_oauth import REDIRECT, pkce
from tests.support.daemon import FAST_SECURITY, running_daemon

pytestmark = pytest.mark.slow

SAME_ORIGIN = {"Origin": "null", "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
MCP = {"Accept": "application/json, text/event-stream"}
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def test_grants_and_tokens_survive_a_restart(tmp_path):
    data_dir = tmp_path / "data"
    with running_daemon(data_dir, config={"security": FAST_SECURITY}) as daemon:
        wallet = daemon.create_wallet("kept")
        with daemon.client() as http:
            client = http.post(
                "/oauth/register",
                json={
                    "client_name": "Restart Agent",
                    "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_method": "none",
                },
            ).json()
            verifier, challenge = pkce()
            asked = http.get(
                "/oauth/authorize",
                params={
                    "response_type": "code",
                    "client_id": client["client_id"],
                    "redirect_uri": REDIRECT,
                    "state": "st",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                    "resource": f"{daemon.base_url}/mcp",
                },
            )
            consent = asked.headers["location"]
            signed = http.post(
                "/console/signin", data={"password": daemon.password}, headers=SAME_ORIGIN
            )
            assert signed.status_code == 303
            page = http.get(consent)
            csrf = CSRF.search(page.text)
            assert csrf is not None, page.text
            answer = http.post(
                consent,
                data={
                    "csrf_token": csrf.group(1),
                    "walletId": wallet["id"],
                    "access": "spend",
                    "lifetime": "86400",
                    "decision": "allow",
                },
                headers=SAME_ORIGIN,
            )
            code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
            tokens = http.post(
                "/oauth/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "code_verifier": verifier,
                    "client_id": client["client_id"],
                    "redirect_uri": REDIRECT,
                },
            ).json()
        assert daemon.stop() == 0

    port = int(daemon.base_url.rsplit(":", 1)[1])  # the token is bound to this origin
    with running_daemon(data_dir, port=port) as again, again.client() as http:
        bearer = {**MCP, "Authorization": f"Bearer {tokens['access_token']}"}
        listed = http.post("/mcp", json=LIST, headers=bearer)
        assert listed.status_code == 200, listed.text
        assert "send_token" in listed.text
        fresh = http.post(
            "/oauth/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": client["client_id"],
            },
        )
        assert fresh.status_code == 200, fresh.text
        [session] = again.api("GET", "/v1/sessions").json()["items"]
        assert session["label"] == "oauth:Restart Agent"
        assert again.api("DELETE", f"/v1/sessions/{session['id']}").status_code == 200
        after = {**MCP, "Authorization": f"Bearer {fresh.json()['access_token']}"}
        assert http.post("/mcp", json=LIST, headers=after).status_code == 401
