"""Console security against the in-process daemon: CSRF, origin, cookie, headers, secrets."""

from __future__ import annotations

from importlib.resources import files

import httpx
import pytest

from tests.console.conftest import MASTER, ORIGIN, PASSWORD, SAME_ORIGIN
from tests.daemon.conftest import Harness
from waiaas_core.errors import WaiaasError
from waiaas_daemon.serving.app import create_app
from waiaas_daemon.serving.console.sessions import ConsoleSessions, _digest

pytestmark = pytest.mark.anyio

HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def _wallet_with_session(harness: Harness) -> tuple[dict, dict]:
    wallet = await harness.wallet()
    return wallet, await harness.session(wallet["id"], label="agent")


def _revoke_path(wallet: dict, session: dict) -> str:
    return f"/console/wallets/{wallet['id']}/sessions/{session['id']}/revoke"


async def _still_works(harness: Harness, session: dict) -> bool:
    return (await harness.as_agent(session["token"])).status_code == 200


REFUSED_ORIGINS = {
    "foreign Origin": {"Origin": "http://evil.example"},
    "another port of localhost": {"Origin": "http://127.0.0.1:9999"},
    "foreign Origin with same-origin fetch": {
        "Origin": "http://evil.example",
        "Sec-Fetch-Site": "same-origin",
    },
    "Sec-Fetch-Site cross-site": {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    "Sec-Fetch-Site same-site": {"Origin": "null", "Sec-Fetch-Site": "same-site"},
    "own Origin but cross-site fetch": {"Origin": ORIGIN, "Sec-Fetch-Site": "cross-site"},
    "foreign Referer": {"Referer": "http://evil.example/page", "Sec-Fetch-Site": "same-origin"},
    "no Origin and no Sec-Fetch-Site": {},
    "Origin null and no Sec-Fetch-Site": {"Origin": "null"},
}


@pytest.mark.parametrize("headers", REFUSED_ORIGINS.values(), ids=REFUSED_ORIGINS.keys())
async def test_a_revoke_from_outside_the_console_is_403_csrf_failed_and_revokes_nothing(
    harness, owner, headers
):
    wallet, session = await _wallet_with_session(harness)
    token = await owner.csrf_token()
    answer = await owner.post(_revoke_path(wallet, session), {"csrf_token": token}, headers)
    assert answer.status_code == 403
    assert "CSRF_FAILED" in answer.text
    assert await _still_works(harness, session)


async def test_a_revoke_without_the_csrf_token_is_403_and_revokes_nothing(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    answer = await owner.post(_revoke_path(wallet, session), {})
    assert answer.status_code == 403
    assert "CSRF_FAILED" in answer.text
    assert await _still_works(harness, session)


async def test_a_revoke_with_another_console_sessions_token_is_403_and_revokes_nothing(
    harness, owners
):
    first, second = owners
    for owner in owners:
        assert (await owner.sign_in()).status_code == 303
    wallet, session = await _wallet_with_session(harness)
    others_token = await second.csrf_token()
    assert others_token != await first.csrf_token()
    answer = await first.post(_revoke_path(wallet, session), {"csrf_token": others_token})
    assert answer.status_code == 403
    assert "CSRF_FAILED" in answer.text
    assert await _still_works(harness, session)


async def test_a_revoke_from_the_console_with_its_token_revokes_the_session(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    token = await owner.csrf_token(f"/console/wallets/{wallet['id']}")
    answer = await owner.post(_revoke_path(wallet, session), {"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/wallets/{wallet['id']}"
    refused = await harness.as_agent(session["token"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "SESSION_REVOKED"


async def test_a_post_with_the_daemons_own_origin_and_no_fetch_metadata_is_accepted(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    token = await owner.csrf_token()
    answer = await owner.post(
        _revoke_path(wallet, session), {"csrf_token": token}, {"Origin": ORIGIN}
    )
    assert answer.status_code == 303
    assert not await _still_works(harness, session)


async def test_a_session_of_another_wallet_cannot_be_revoked_through_this_wallets_form(
    harness, owner
):
    wallet, _ = await _wallet_with_session(harness)
    other = await harness.wallet("other")
    session = await harness.session(other["id"])
    token = await owner.csrf_token()
    answer = await owner.post(_revoke_path(wallet, session), {"csrf_token": token})
    assert answer.status_code == 404
    assert "SESSION_NOT_FOUND" in answer.text
    assert await _still_works(harness, session)


async def test_the_csrf_failure_is_an_html_page_for_a_browser_and_json_otherwise(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    path = _revoke_path(wallet, session)
    html = await owner.post(path, {})
    assert html.headers["content-type"].startswith("text/html")
    assert "<html" in html.text
    api_like = await owner.http.post(path, data={}, headers=SAME_ORIGIN)
    assert api_like.status_code == 403
    assert api_like.json()["code"] == "CSRF_FAILED"


async def test_sign_out_without_the_csrf_token_is_refused_and_the_owner_stays_signed_in(owner):
    answer = await owner.post("/console/signout", {})
    assert answer.status_code == 403
    assert (await owner.http.get("/console/")).status_code == 200


async def test_sign_in_from_a_foreign_origin_is_refused_and_not_counted_as_a_failure(
    harness, owners
):
    foreign = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    for _ in range(harness.state.settings.master_lockout_attempts + 1):
        answer = await owners[0].post("/console/signin", {"password": "wrong"}, foreign)
        assert answer.status_code == 403
    assert "waiaas_console" not in owners[0].http.cookies
    assert (await harness.http.get("/v1/wallets", headers=MASTER)).status_code == 200


async def test_the_session_cookie_is_httponly_samesite_strict_and_scoped_to_console(owners):
    answer = await owners[0].sign_in()
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"] == "SameSite=Strict"
    assert attributes["path"] == "Path=/console"
    value = cookie.split(";")[0].split("=", 1)[1]
    assert len(value) >= 43  # 256 bits in URL-safe base64


async def test_each_sign_in_gets_a_new_session_id(owners):
    first = (await owners[0].sign_in()).cookies["waiaas_console"]
    second = (await owners[0].sign_in()).cookies["waiaas_console"]
    assert first != second


async def test_pages_redirect_to_sign_in_without_a_session(harness, owners):
    wallet = await harness.wallet()
    for path in ("/console/", f"/console/wallets/{wallet['id']}"):
        answer = await owners[0].http.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/signin"


async def test_fifteen_idle_minutes_end_the_session_but_each_request_restarts_the_timer(
    harness, owner
):
    harness.clock.advance(14 * 60)
    assert (await owner.http.get("/console/")).status_code == 200
    harness.clock.advance(14 * 60)
    assert (await owner.http.get("/console/")).status_code == 200
    harness.clock.advance(15 * 60)
    assert (await owner.http.get("/console/")).status_code == 303


async def test_sign_out_ends_the_session_for_its_cookie(owner):
    cookie = owner.http.cookies["waiaas_console"]
    token = await owner.csrf_token()
    answer = await owner.post("/console/signout", {"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/signin"
    owner.http.cookies.set("waiaas_console", cookie, path="/console")
    assert (await owner.http.get("/console/")).status_code == 303


async def test_a_new_daemon_app_knows_no_console_session_of_the_old_one(harness, owner):
    cookie = owner.http.cookies["waiaas_console"]
    transport = httpx.ASGITransport(app=create_app(harness.state))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as restarted:
        restarted.cookies.set("waiaas_console", cookie, path="/console")
        assert (await restarted.get("/console/")).status_code == 303


async def test_a_wrong_password_on_the_sign_in_page_counts_toward_the_master_lockout(
    harness, owners
):
    attempts = harness.state.settings.master_lockout_attempts
    for _ in range(attempts):
        answer = await owners[0].sign_in("wrong password")
        assert answer.status_code == 401
        assert "The master password is wrong." in answer.text
    locked = await owners[0].sign_in(PASSWORD)
    assert locked.status_code == 429
    assert "Too many wrong master passwords" in locked.text
    assert "Try again in" in locked.text
    api = await harness.http.get("/v1/wallets", headers=MASTER)
    assert api.status_code == 429


async def test_every_console_answer_sends_csp_frame_and_referrer_headers(harness, owners):
    wallet = await harness.wallet()
    anonymous, signed = owners
    pages = [
        await anonymous.http.get("/console"),
        await anonymous.http.get("/console/signin"),
        await anonymous.http.get("/console/"),
        await anonymous.http.get("/console/static/console.css"),
        await anonymous.http.get("/console/static/htmx.min.js"),
        await anonymous.sign_in("wrong password"),
        await anonymous.post("/console/signout", {}),
    ]
    assert (await signed.sign_in()).status_code == 303
    pages += [
        await signed.http.get("/console/"),
        await signed.http.get(f"/console/wallets/{wallet['id']}"),
        await signed.http.get("/console/wallets/not-a-uuid", headers={"Accept": "text/html"}),
        await signed.http.get("/console/no-such-page", headers={"Accept": "text/html"}),
    ]
    for page in pages:
        for name, value in HEADERS.items():
            assert page.headers.get(name) == value, (page.url, name)


async def test_a_foreign_host_is_refused_on_console_pages(owner):
    for method, path in [("GET", "/console/"), ("POST", "/console/signin")]:
        answer = await owner.http.request(
            method, path, headers={"Host": "evil.example", **SAME_ORIGIN}
        )
        assert answer.status_code == 400
        assert answer.json()["code"] == "INVALID_HOST"


async def test_no_page_contains_the_password_a_token_the_cookie_or_the_jwt_secret(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1000000000"}, headers=MASTER
    )
    cookie = owner.http.cookies["waiaas_console"]
    secrets = [PASSWORD, session["token"], cookie, harness.state.jwt_secret.hex()]
    wrong = await owner.sign_in("not the password but typed")
    html = [
        (await owner.http.get("/console/")).text,
        (await owner.http.get(f"/console/wallets/{wallet['id']}")).text,
        wrong.text,
    ]
    assert "not the password but typed" not in wrong.text
    for text in html:
        for secret in secrets:
            assert secret not in text


async def test_the_overview_lists_wallets_with_status_and_sol_balance(harness, owner):
    wallet = await harness.wallet("treasury")
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "1500000000"}, headers=MASTER
    )
    page = await owner.http.get("/console/")
    assert "treasury" in page.text
    assert "ACTIVE" in page.text
    assert "1.5" in page.text


async def test_the_wallet_page_shows_address_sessions_and_transactions(harness, owner):
    wallet, session = await _wallet_with_session(harness)
    await harness.http.post(
        f"/v1/wallets/{wallet['id']}/airdrop", json={"amount": "2000000000"}, headers=MASTER
    )
    page = await owner.http.get(f"/console/wallets/{wallet['id']}")
    assert wallet["address"] in page.text
    assert session["id"] in page.text
    assert "Revoke" in page.text
    assert "AIRDROP" in page.text.upper()


async def test_an_unknown_wallet_is_a_404_page(owner):
    page = await owner.http.get(
        "/console/wallets/00000000-0000-4000-8000-000000000000", headers={"Accept": "text/html"}
    )
    assert page.status_code == 404
    assert "WALLET_NOT_FOUND" in page.text


async def test_the_console_sessions_are_kept_only_as_sha256_digests(harness):
    store = ConsoleSessions(harness.clock)
    session_id = store.start()
    assert session_id not in repr(vars(store))
    assert _digest(session_id) in vars(store)["_by_digest"]
    assert store.touch(session_id) is not None
    store.end(session_id)
    assert store.touch(session_id) is None


def test_the_installed_package_carries_the_templates_and_static_files():
    # Under nox the daemon is installed from its wheel, so this checks what ships.
    console = files("waiaas_daemon.serving.console")
    for name in ("templates/base.html", "static/console.css", "static/htmx.min.js"):
        assert console.joinpath(name).is_file(), name


class _DownChain:
    """A chain whose node does not answer: every balance read is a CHAIN_ERROR."""

    async def get_balance(self, address: str) -> int:
        raise WaiaasError("CHAIN_ERROR")

    async def token_accounts(self, owner: str, known: tuple[str, ...] = ()) -> list[object]:
        raise WaiaasError("CHAIN_ERROR")

    async def aclose(self) -> None:
        pass


async def test_a_wallet_whose_chain_is_down_shows_its_balance_as_unavailable(harness, owner):
    harness.state.chain_factory = lambda network, settings: _DownChain()
    created = await harness.http.post(
        "/v1/wallets", json={"name": "on devnet", "network": "devnet"}, headers=MASTER
    )
    assert created.status_code == 201, created.text
    overview = await owner.http.get("/console/")
    assert overview.status_code == 200
    assert "on devnet" in overview.text
    assert "unavailable" in overview.text
    wallet_page = await owner.http.get(f"/console/wallets/{created.json()['id']}")
    assert wallet_page.status_code == 200
    assert "unavailable SOL" not in wallet_page.text
    assert "unavailable" in wallet_page.text
