"""OAuth 2.1 for /mcp on a fake clock: registration, the owner's consent, codes and tokens.

In process (the real app and SQLite, /mcp's task group running as in the lifespan):
the owner answers through the console's own routes with its cookie and CSRF token, the
client is a plain HTTP client speaking the OAuth wire format. The official SDK
clients drive a real daemon in tests/mcp/test_oauth_e2e.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from argon2 import PasswordHasher

from tests.daemon.conftest import MASTER, PASSWORD, FakeClock, Harness
from tests.daemon.test_remote_mcp import mcp_call
from waiaas_core.config import Settings
from waiaas_daemon.domain import oauth
from waiaas_daemon.domain.keystore import KdfParams
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app

pytestmark = pytest.mark.anyio

ORIGIN = "http://127.0.0.1"
RESOURCE = f"{ORIGIN}/mcp"
REDIRECT = "http://127.0.0.1:8765/callback"
SAME_ORIGIN = {"Origin": "null", "Sec-Fetch-Site": "same-origin", "Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
RECIPIENT = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"


@pytest.fixture
def settings() -> Settings:
    return Settings(min_session_ttl=10, session_ttl=3600, max_renewals=3)


@dataclass
class OAuthHarness(Harness):
    app: Any = None
    owner: httpx.AsyncClient | None = None
    documents: dict[str, bytes] = field(default_factory=dict)


@pytest.fixture
async def harness(tmp_path, settings) -> AsyncIterator[OAuthHarness]:
    clock = FakeClock()
    light = KdfParams(time_cost=1, memory_cost=1024, parallelism=1)
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    async with DaemonState.open(
        settings, tmp_path / "data", PASSWORD, clock=clock, kdf=light, hasher=cheap
    ) as state:
        app = create_app(state)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            app.remote_mcp.running(),
            httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http,
            httpx.AsyncClient(transport=transport, base_url=ORIGIN) as owner,
        ):
            h = OAuthHarness(state, http, clock, app=app, owner=owner)

            async def fetch(url: str) -> bytes:
                if url not in h.documents:
                    raise oauth.OAuthError("invalid_client", "no such document")
                return h.documents[url]

            app.oauth.fetch = fetch
            signed = await owner.post(
                "/console/signin", data={"password": PASSWORD}, headers=SAME_ORIGIN
            )
            assert signed.status_code == 303, signed.text
            yield h


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


async def register(h: Harness, **metadata: Any) -> dict[str, Any]:
    body = {
        "client_name": "Test Agent",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }
    response = await h.http.post("/oauth/register", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class Flow:
    client: dict[str, Any]
    verifier: str
    state: str
    consent: str  # the console path of the request


async def authorize(
    h: Harness, client: dict[str, Any], **overrides: str
) -> tuple[httpx.Response, Flow]:
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": client["redirect_uris"][0],
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
        "scope": "wallet:read wallet:spend",
        **overrides,
    }
    params = {k: v for k, v in params.items() if v != ""}
    response = await h.http.get("/oauth/authorize", params=params)
    return response, Flow(client, verifier, state, response.headers.get("location", ""))


async def consent(
    h: OAuthHarness, flow: Flow, wallet_id: str, *, decision: str = "allow", **fields: str
) -> httpx.Response:
    assert h.owner is not None
    page = await h.owner.get(flow.consent)
    assert page.status_code == 200, page.text
    match = CSRF.search(page.text)
    assert match
    data = {
        "csrf_token": match.group(1),
        "walletId": wallet_id,
        "access": "spend",
        "lifetime": "3600",
        "decision": decision,
        **fields,
    }
    return await h.owner.post(flow.consent, data=data, headers=SAME_ORIGIN)


def answer_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT.split("?")[0]), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def token(h: Harness, **form: str) -> httpx.Response:
    return await h.http.post("/oauth/token", data=form)


async def granted(
    h: OAuthHarness, wallet: dict[str, Any] | None = None, **consent_fields: str
) -> tuple[dict[str, Any], Flow, dict[str, Any]]:
    """A registered client, the owner's yes, the code exchanged: (tokens, flow, wallet)."""
    wallet = wallet or await h.wallet()
    client = await register(h)
    response, flow = await authorize(h, client)
    assert response.status_code == 303, response.text
    answer = answer_of(await consent(h, flow, wallet["id"], **consent_fields))
    assert answer["state"] == flow.state and answer["iss"] == ORIGIN
    exchanged = await token(
        h,
        grant_type="authorization_code",
        code=answer["code"],
        code_verifier=flow.verifier,
        client_id=client["client_id"],
        redirect_uri=REDIRECT,
        resource=RESOURCE,
    )
    assert exchanged.status_code == 200, exchanged.text
    return exchanged.json(), flow, wallet


async def tool_result(h: Harness, access: str, name: str, **arguments: Any) -> dict[str, Any]:
    response = await mcp_call(h, access, name, arguments)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["result"]
    return result


# -- metadata and the 401 pointer ------------------------------------------------------


async def test_metadata_names_this_mcp_resource_its_server_and_what_it_supports(
    harness: OAuthHarness,
):
    prm = (await harness.http.get("/.well-known/oauth-protected-resource/mcp")).json()
    assert prm["resource"] == RESOURCE
    assert prm["authorization_servers"] == [ORIGIN]
    assert prm["scopes_supported"] == ["wallet:read", "wallet:spend"]
    meta = (await harness.http.get("/.well-known/oauth-authorization-server")).json()
    assert meta["issuer"] == ORIGIN
    assert meta["token_endpoint"] == f"{ORIGIN}/oauth/token"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["client_id_metadata_document_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "access-control-allow-origin" not in {k.lower() for k in meta}


async def test_every_401_from_mcp_points_at_the_resource_metadata(harness: OAuthHarness):
    for bearer in (None, "wai_oat_forged", "wai_sess_forged"):
        refused = await mcp_call(harness, bearer, "get_address")
        assert refused.status_code == 401
        challenge = refused.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{ORIGIN}/.well-known/oauth-protected-resource/mcp"' in challenge
        assert 'scope="wallet:read wallet:spend"' in challenge
        assert ('error="invalid_token"' in challenge) == (bearer is not None)


# -- the whole flow ------------------------------------------------------------------------


async def test_consent_makes_a_session_whose_access_token_serves_mcp(harness: OAuthHarness):
    tokens, _, wallet = await granted(harness)
    assert tokens["token_type"] == "Bearer" and tokens["scope"] == "wallet:read wallet:spend"
    assert tokens["expires_in"] == 900
    assert tokens["access_token"].startswith("wai_oat_")
    result = await tool_result(harness, tokens["access_token"], "get_address")
    assert wallet["address"] in result["content"][0]["text"]
    listed = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    [grant] = [s for s in listed if s["label"] == "oauth:Test Agent"]
    assert grant["status"] == "ACTIVE"
    # Only hashes are stored: no table holds a token in clear.
    for table in ("oauth_tokens", "oauth_codes", "oauth_requests", "oauth_clients"):
        rows = await harness.state.db.reader.execute_fetchall(f"SELECT * FROM {table}")  # noqa: S608
        text = repr([tuple(r) for r in rows])
        assert tokens["access_token"] not in text and tokens["refresh_token"] not in text


async def test_an_access_token_works_on_mcp_only(harness: OAuthHarness):
    tokens, _, _ = await granted(harness)
    rest = await harness.as_agent(tokens["access_token"])
    assert rest.status_code == 401


async def test_the_access_token_expires_and_a_refresh_rotates_both_tokens(harness: OAuthHarness):
    tokens, flow, _ = await granted(harness)
    harness.clock.advance(901)
    assert (await mcp_call(harness, tokens["access_token"], "get_address")).status_code == 401
    refreshed = await token(
        harness,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=flow.client["client_id"],
        resource=RESOURCE,
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert (await tool_result(harness, fresh["access_token"], "get_address"))["isError"] is False


async def test_a_replayed_refresh_token_revokes_the_whole_grant(harness: OAuthHarness):
    tokens, flow, _ = await granted(harness)
    form = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": flow.client["client_id"],
    }
    fresh = (await token(harness, **form)).json()
    replay = await token(harness, **form)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The thief's replay ended the rightful holder's tokens too.
    assert (await mcp_call(harness, fresh["access_token"], "get_address")).status_code == 401
    again = await token(harness, **{**form, "refresh_token": fresh["refresh_token"]})
    assert again.json()["error"] == "invalid_grant"
    audit = (await harness.http.get("/v1/audit?action=oauth.refresh_reuse", headers=MASTER)).json()
    assert len(audit["items"]) == 1


async def test_refreshes_renew_the_session_within_its_limits(harness: OAuthHarness):
    tokens, flow, _ = await granted(harness)
    refresh_token = tokens["refresh_token"]
    for _ in range(5):
        harness.clock.advance(1801)
        answer = await token(
            harness,
            grant_type="refresh_token",
            refresh_token=refresh_token,
            client_id=flow.client["client_id"],
        )
        if answer.status_code != 200:
            break
        refresh_token = answer.json()["refresh_token"]
    # max_renewals = 3: three renewals at half the 1 h TTL, then the session runs out.
    assert answer.json()["error"] == "invalid_grant"
    listed = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    assert listed[0]["renewalCount"] == 3 and listed[0]["status"] == "EXPIRED"


async def test_a_wrong_pkce_verifier_fails_and_spends_the_code(harness: OAuthHarness):
    wallet = await harness.wallet()
    client = await register(harness)
    _, flow = await authorize(harness, client)
    code = answer_of(await consent(harness, flow, wallet["id"]))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT,
    }
    wrong = await token(harness, **form, code_verifier=pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = await token(harness, **form, code_verifier=flow.verifier)
    assert right.json()["error"] == "invalid_grant"


async def test_an_expired_code_and_a_reused_code_are_refused(harness: OAuthHarness):
    wallet = await harness.wallet()
    client = await register(harness)
    _, flow = await authorize(harness, client)
    code = answer_of(await consent(harness, flow, wallet["id"]))["code"]
    harness.clock.advance(61)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client["client_id"],
        "code_verifier": flow.verifier,
    }
    expired = await token(harness, **form)
    assert expired.json() == {
        "error": "invalid_grant",
        "error_description": "The authorization code has expired.",
    }
    # A fresh code used twice: the second exchange fails and ends what the first got.
    _, flow = await authorize(harness, client)
    code = answer_of(await consent(harness, flow, wallet["id"]))["code"]
    form = {**form, "code": code, "code_verifier": flow.verifier}
    first = await token(harness, **form)
    assert first.status_code == 200
    second = await token(harness, **form)
    assert second.json()["error"] == "invalid_grant"
    assert (await mcp_call(harness, first.json()["access_token"], "get_address")).status_code == 401


async def test_a_redirect_uri_must_match_exactly_and_errors_never_redirect_there(
    harness: OAuthHarness,
):
    client = await register(harness, redirect_uris=["https://agent.example/cb"])
    for uri in (
        "https://evil.example/cb",
        "https://agent.example/cb/more",
        "https://agent.example/cb?x=1",
        "https://agent.example:444/cb",
    ):
        refused, _ = await authorize(harness, client, redirect_uri=uri)
        assert refused.status_code == 400, uri
        assert "location" not in refused.headers
        assert refused.json()["error"] == "invalid_request"
        assert refused.headers["x-frame-options"] == "DENY"
    unknown, _ = await authorize(harness, {**client, "client_id": "nobody"})
    assert unknown.status_code == 400 and "location" not in unknown.headers


async def test_a_native_clients_loopback_redirect_may_use_any_port_a_web_clients_not(
    harness: OAuthHarness,
):
    native = await register(harness, redirect_uris=["http://127.0.0.1/callback"])
    ok, _ = await authorize(harness, native, redirect_uri="http://127.0.0.1:49152/callback")
    assert ok.status_code == 303 and ok.headers["location"].startswith("/console/oauth/")
    other_path, _ = await authorize(harness, native, redirect_uri="http://127.0.0.1:4915/other")
    assert other_path.status_code == 400
    web = await register(
        harness, redirect_uris=["https://agent.example/cb"], application_type="web"
    )
    refused, _ = await authorize(harness, web, redirect_uri="https://agent.example:8443/cb")
    assert refused.status_code == 400
    bad = await harness.http.post(
        "/oauth/register",
        json={"redirect_uris": ["http://agent.example/cb"], "token_endpoint_auth_method": "none"},
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_redirect_uri"


async def test_state_and_pkce_s256_are_required(harness: OAuthHarness):
    client = await register(harness)
    for overrides in (
        {"state": ""},
        {"code_challenge": ""},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": ""},
        {"response_type": "token"},
    ):
        refused, flow = await authorize(harness, client, **overrides)
        answer = answer_of(refused)
        assert answer["error"] in ("invalid_request", "unsupported_response_type"), overrides
        assert answer["iss"] == ORIGIN
        if overrides != {"state": ""}:
            assert answer["state"] == flow.state


async def test_a_token_for_another_resource_is_refused(harness: OAuthHarness):
    client = await register(harness)
    refused, _ = await authorize(harness, client, resource="https://other.example/mcp")
    assert answer_of(refused)["error"] == "invalid_target"
    tokens, _, _ = await granted(harness)
    # The same daemon under another name is another resource: the token names this one.
    other = await harness.http.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        headers={
            "Authorization": f"Bearer {tokens['access_token']}",
            "Accept": "application/json, text/event-stream",
            "Host": "localhost",
        },
    )
    assert other.status_code == 401
    assert other.json()["message"] == "The access token was issued for another resource."


async def test_a_grant_revoked_by_the_owner_ends_access_and_refresh(harness: OAuthHarness):
    tokens, flow, _ = await granted(harness)
    listed = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    revoked = await harness.http.delete(f"/v1/sessions/{listed[0]['id']}", headers=MASTER)
    assert revoked.status_code == 200
    assert (await mcp_call(harness, tokens["access_token"], "get_address")).status_code == 401
    refresh = await token(
        harness,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        client_id=flow.client["client_id"],
    )
    assert refresh.json() == {
        "error": "invalid_grant",
        "error_description": "The grant was revoked.",
    }


async def test_the_client_may_revoke_its_grant_rfc7009(harness: OAuthHarness):
    tokens, flow, _ = await granted(harness)
    gone = await harness.http.post(
        "/oauth/revoke",
        data={"token": tokens["refresh_token"], "client_id": flow.client["client_id"]},
    )
    assert gone.status_code == 200
    assert (await mcp_call(harness, tokens["access_token"], "get_address")).status_code == 401
    unknown = await harness.http.post(
        "/oauth/revoke", data={"token": "nothing", "client_id": flow.client["client_id"]}
    )
    assert unknown.status_code == 200


async def test_a_denied_consent_tells_the_client_access_denied(harness: OAuthHarness):
    wallet = await harness.wallet()
    client = await register(harness)
    _, flow = await authorize(harness, client)
    answer = answer_of(await consent(harness, flow, wallet["id"], decision="deny"))
    assert answer["error"] == "access_denied" and answer["state"] == flow.state
    assert "code" not in answer
    assert (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"] == []
    # The request is spent: a second answer finds nothing.
    assert (await harness.owner.get(flow.consent)).status_code == 404  # type: ignore[union-attr]
    audit = (await harness.http.get("/v1/audit?action=oauth.deny", headers=MASTER)).json()
    assert audit["items"][0]["details"]["clientName"] == "Test Agent"


async def test_the_kill_switch_refuses_consent_and_stops_a_grants_sends(harness: OAuthHarness):
    tokens, _, wallet = await granted(harness)
    on = await harness.http.post("/v1/admin/kill-switch", json={}, headers=MASTER)
    assert on.status_code == 200, on.text
    sent = await tool_result(
        harness, tokens["access_token"], "send_token", to=RECIPIENT, amount="1000"
    )
    assert sent["isError"] is True and "KILL_SWITCH_ACTIVE" in sent["content"][0]["text"]
    client = await register(harness)
    _, flow = await authorize(harness, client)
    refused = await consent(harness, flow, wallet["id"])
    assert refused.status_code == 403 and "KILL_SWITCH_ACTIVE" in refused.text


async def test_a_read_only_grant_reads_but_never_spends(harness: OAuthHarness):
    tokens, _, wallet = await granted(harness, access="read")
    assert tokens["scope"] == "wallet:read"
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1000000000"}, headers=MASTER
    )
    sent = await tool_result(
        harness, tokens["access_token"], "send_token", to=RECIPIENT, amount="1000"
    )
    assert sent["isError"] is True and "CONSTRAINT_VIOLATED" in sent["content"][0]["text"]


async def test_the_owners_limits_become_the_sessions_constraints(harness: OAuthHarness):
    tokens, _, wallet = await granted(harness, maxAmountPerTx="0.000001")
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1000000000"}, headers=MASTER
    )
    over = await tool_result(
        harness, tokens["access_token"], "send_token", to=RECIPIENT, amount="1001"
    )
    assert "CONSTRAINT_VIOLATED" in over["content"][0]["text"]
    under = await tool_result(
        harness, tokens["access_token"], "send_token", to=RECIPIENT, amount="1000"
    )
    assert under["isError"] is False, under


async def test_the_consent_post_needs_the_console_session_and_its_csrf_token(
    harness: OAuthHarness,
):
    wallet = await harness.wallet()
    client = await register(harness)
    _, flow = await authorize(harness, client)
    form = {"walletId": wallet["id"], "access": "spend", "lifetime": "3600", "decision": "allow"}
    stranger = await harness.http.post(flow.consent, data=form, headers=SAME_ORIGIN)
    assert stranger.status_code == 401
    owner = harness.owner
    assert owner is not None
    no_csrf = await owner.post(flow.consent, data=form, headers=SAME_ORIGIN)
    assert no_csrf.status_code == 403
    page = await owner.get(flow.consent)
    token_field = CSRF.search(page.text)
    assert token_field is not None
    foreign = await owner.post(
        flow.consent,
        data={**form, "csrf_token": token_field.group(1)},
        headers={"Origin": "https://agent.example", "Accept": "text/html"},
    )
    assert foreign.status_code == 403
    assert page.headers["x-frame-options"] == "DENY"
    assert (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"] == []
    # Not signed in: the consent page sends the owner to sign in, and back here after.
    away = await harness.http.get(flow.consent)
    assert away.headers["location"] == f"/console/signin?next={flow.consent}"
    signed = await harness.http.post(
        "/console/signin",
        data={"password": PASSWORD, "next": flow.consent},
        headers=SAME_ORIGIN,
    )
    assert signed.headers["location"] == flow.consent
    elsewhere = await harness.http.post(
        "/console/signin",
        data={"password": PASSWORD, "next": "https://evil.example/"},
        headers=SAME_ORIGIN,
    )
    assert elsewhere.headers["location"] == "/console/"


async def test_a_confidential_client_authenticates_with_its_secret(harness: OAuthHarness):
    wallet = await harness.wallet()
    client = await register(harness, token_endpoint_auth_method="client_secret_basic")
    assert client["client_secret"]
    _, flow = await authorize(harness, client)
    code = answer_of(await consent(harness, flow, wallet["id"]))["code"]
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": flow.verifier}
    wrong = await harness.http.post(
        "/oauth/token", data=form, auth=(client["client_id"], "not the secret")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    public = await token(harness, **form, client_id=client["client_id"])
    assert public.status_code == 401
    # The failed attempts never reached the code: the right secret still exchanges it.
    right = await harness.http.post(
        "/oauth/token", data=form, auth=(client["client_id"], client["client_secret"])
    )
    assert right.status_code == 200, right.text


async def test_registration_and_token_endpoints_are_rate_limited(harness: OAuthHarness):
    for _ in range(20):
        await register(harness)
    limited = await harness.http.post(
        "/oauth/register", json={"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
    )
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    harness.clock.advance(601)
    await register(harness)


async def test_a_client_id_metadata_document_is_a_client(harness: OAuthHarness):
    url = "https://agent.example/oauth/client.json"
    harness.documents[url] = (
        b'{"client_id": "https://agent.example/oauth/client.json", "client_name": "Doc Agent",'
        b' "redirect_uris": ["https://agent.example/cb"],'
        b' "grant_types": ["authorization_code", "refresh_token"],'
        b' "token_endpoint_auth_method": "none"}'
    )
    client = {"client_id": url, "redirect_uris": ["https://agent.example/cb"]}
    ok, flow = await authorize(harness, client)
    assert ok.status_code == 303
    page = await harness.owner.get(flow.consent)  # type: ignore[union-attr]
    assert "Doc Agent" in page.text and "agent.example" in page.text
    harness.documents["https://agent.example/other.json"] = harness.documents[url]
    liar, _ = await authorize(harness, {**client, "client_id": "https://agent.example/other.json"})
    assert liar.status_code == 400 and liar.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("fc00::1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("not an ip", False),
    ],
)
def test_a_client_document_is_fetched_from_public_addresses_only(address: str, public: bool):
    assert oauth.public_address(address) is public


async def test_fetching_a_document_from_a_private_name_is_refused_before_connecting():
    with pytest.raises(oauth.OAuthError, match="not a public address"):
        await oauth.fetch_document("https://localhost/client.json")


async def test_dollar_budgets_chosen_at_consent_become_the_sessions_constraints(
    harness: OAuthHarness,
):
    tokens, _, _ = await granted(harness, maxUsdPerDay="25", maxUsdTotal="$100.50")
    info = await tool_result(harness, tokens["access_token"], "get_session_info")
    constraints = json.loads(info["content"][0]["text"])["constraints"]
    assert constraints == {"maxUsdPerDay": "25", "maxUsdTotal": "100.50"}
    wallet = await harness.wallet("second")
    client = await register(harness)
    _, flow = await authorize(harness, client)
    wrong = await consent(harness, flow, wallet["id"], maxUsdPerTx="ten dollars")
    assert wrong.status_code == 400 and "maxUsdPerTx" in wrong.text


async def test_through_public_url_only_mcp_and_oauth_answer_and_consent_stays_local(
    harness: OAuthHarness,
):
    harness.configure(public_url="https://wallet.example.com")
    app = create_app(harness.state)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://wallet.example.com") as pub:
        meta = (await pub.get("/.well-known/oauth-authorization-server")).json()
        assert meta["issuer"] == "https://wallet.example.com"
        assert meta["authorization_endpoint"] == "https://wallet.example.com/oauth/authorize"
        prm = (await pub.get("/.well-known/oauth-protected-resource/mcp")).json()
        assert prm["resource"] == "https://wallet.example.com/mcp"
        refused = await pub.post("/mcp", json={})
        assert refused.status_code == 401
        assert (
            'resource_metadata="https://wallet.example.com/.well-known/oauth-protected-resource/mcp"'
            in refused.headers["www-authenticate"]
        )
        # The owner's side does not answer to the public name, whatever a proxy forwards.
        for path in ("/console/", "/console/signin", "/v1/wallets", "/health", "/openapi.json"):
            hidden = await pub.get(path, headers=MASTER)
            assert hidden.status_code == 400 and hidden.json()["code"] == "INVALID_HOST", path
        client = (
            await pub.post(
                "/oauth/register",
                json={
                    "redirect_uris": ["https://agent.example/cb"],
                    "token_endpoint_auth_method": "none",
                },
            )
        ).json()
        verifier, challenge = pkce()
        asked = await pub.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": "https://agent.example/cb",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "resource": "https://wallet.example.com/mcp",
            },
        )
        # Consent happens in the console on the daemon's own address, never the public one.
        assert asked.status_code == 303
        local = harness.state.base_url
        assert local.startswith("http://127.0.0.1:")
        assert asked.headers["location"].startswith(f"{local}/console/oauth/")
        # A loopback resource is another resource: a token for it is refused here.
        foreign = await pub.get(
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": "https://agent.example/cb",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "resource": RESOURCE,
            },
        )
        assert answer_of_uri(foreign, "https://agent.example/cb")["error"] == "invalid_target"
        assert verifier


def answer_of_uri(response: httpx.Response, uri: str) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(uri), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def test_invented_document_client_ids_cannot_make_the_daemon_fetch_without_bound(
    harness: OAuthHarness,
):
    fetched: list[str] = []
    fake = harness.app.oauth.fetch

    async def counting(url: str) -> bytes:
        fetched.append(url)
        return await fake(url)

    harness.app.oauth.fetch = counting
    for n in range(30):
        client = {"client_id": f"https://x{n}.example/c.json", "redirect_uris": [REDIRECT]}
        refused, _ = await authorize(harness, client)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_client"
    limited, _ = await authorize(
        harness, {"client_id": "https://x99.example/c.json", "redirect_uris": [REDIRECT]}
    )
    assert limited.status_code == 429
    assert len(fetched) == 30


async def test_the_wallet_page_shows_a_grant_with_its_scope_and_revokes_it(harness: OAuthHarness):
    tokens, _, wallet = await granted(harness, access="read")
    owner = harness.owner
    assert owner is not None
    page = await owner.get(f"/console/wallets/{wallet['id']}")
    assert "oauth:Test Agent" in page.text and "(OAuth, wallet:read)" in page.text
    [session] = (await harness.http.get("/v1/sessions", headers=MASTER)).json()["items"]
    csrf = CSRF.search(page.text)
    assert csrf is not None
    revoked = await owner.post(
        f"/console/wallets/{wallet['id']}/sessions/{session['id']}/revoke",
        data={"csrf_token": csrf.group(1)},
        headers=SAME_ORIGIN,
    )
    assert revoked.status_code == 303
    assert (await mcp_call(harness, tokens["access_token"], "get_address")).status_code == 401
