import httpx
import pytest

from waiaas_cli.client import MASTER_HEADER, DaemonClient, DaemonUnreachable
from waiaas_core.errors import WaiaasError


def _client(handler, password=None):
    return DaemonClient("http://daemon", password, transport=httpx.MockTransport(handler))


def test_error_body_becomes_a_waiaas_error_with_its_code_and_status():
    def handler(request):
        body = {"code": "WALLET_NOT_FOUND", "message": "No such wallet.", "retryable": False}
        return httpx.Response(404, json=body)

    with pytest.raises(WaiaasError) as caught:
        _client(handler).request("GET", "/v1/wallets/x")
    assert (caught.value.code, caught.value.status) == ("WALLET_NOT_FOUND", 404)


def test_lockout_says_when_to_try_again_from_retry_after():
    def handler(request):
        body = {"code": "MASTER_PASSWORD_LOCKED", "message": "Locked.", "retryable": False}
        return httpx.Response(429, json=body, headers={"Retry-After": "120"})

    with pytest.raises(WaiaasError) as caught:
        _client(handler, lambda: "pw").request("GET", "/v1/wallets", master=True)
    assert caught.value.hint == "Try again in 120 s."


def test_master_password_is_asked_only_for_master_requests():
    asked, seen = [], []

    def handler(request):
        seen.append(request.headers.get(MASTER_HEADER))
        return httpx.Response(200, json={"status": "ok"})

    client = _client(handler, lambda: asked.append(1) or "pw")
    client.health()
    assert asked == [] and seen == [None]
    client.request("GET", "/v1/admin/status", master=True)
    assert asked == [1] and seen[-1] == "pw"


def test_a_server_that_is_not_a_daemon_is_reported_as_such():
    with pytest.raises(DaemonUnreachable) as caught:
        _client(lambda request: httpx.Response(404, text="<html>")).health()
    assert "not as a waiaas daemon" in caught.value.message


def test_dropped_connection_names_the_url_and_the_serve_command():
    def handler(request):
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DaemonUnreachable) as caught:
        _client(handler).health()
    assert "http://daemon" in caught.value.message
    assert "waiaas-daemon serve" in caught.value.message
