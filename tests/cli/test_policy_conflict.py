"""`waiaas policy set|clear` send the version they read (`If-Match`): a change made by
someone else between the CLI's read and its write is a clear conflict, not a silent
overwrite (issue #21). A real daemon behind a loopback relay that makes the other write
at exactly that moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.cli.checks import assert_one_line_error, ok

FORWARDED = ("X-Master-Password", "Authorization", "Content-Type", "If-Match")


@dataclass
class Relay:
    """Forwards to the daemon; after the daemon answers a chosen GET, runs ``meanwhile``."""

    daemon_url: str
    base_url: str = ""
    meanwhile: dict[str, Callable[[], None]] = field(default_factory=dict)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)


def _handler(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k in FORWARDED if (v := self.headers.get(k)) is not None}
            relay.seen.append((self.command, self.path, self.headers.get("If-Match")))
            answer = httpx.request(
                self.command,
                relay.daemon_url + self.path,
                content=body,
                headers=headers,
                timeout=30,
            )
            if self.command == "GET" and (hook := relay.meanwhile.pop(self.path, None)):
                hook()  # the other writer wins the race: after the read, before the write
            self.send_response(answer.status_code)
            for name in ("Content-Type", "Retry-After"):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_PUT = do_DELETE = do_POST = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def relay(daemon) -> Iterator[Relay]:
    found = Relay(daemon.base_url)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture
def via_relay(cli, daemon, relay):
    def run(*args: str):
        where = ("--base-url", relay.base_url, "--data-dir", str(daemon.data_dir))
        return cli(*args, *where, env={"WAIAAS_MASTER_PASSWORD": daemon.password})

    return run


def _policy(daemon, wallet_id) -> dict[str, Any]:
    return daemon.api("GET", f"/v1/wallets/{wallet_id}/policy").json()


def _someone_else_sets(daemon, wallet_id, **policy) -> Callable[[], None]:
    def write() -> None:
        response = daemon.api("PUT", f"/v1/wallets/{wallet_id}/policy", json=policy)
        assert response.status_code == 200, response.text

    return write


def test_a_change_made_between_the_read_and_the_write_is_a_conflict_not_an_overwrite(
    via_relay, daemon, relay
):
    wallet = daemon.create_wallet("main")
    path = f"/v1/wallets/{wallet['id']}/policy"
    assert daemon.api("PUT", path, json={"dailyLimit": "7000000000"}).json()["version"] == 1
    relay.meanwhile[path] = _someone_else_sets(daemon, wallet["id"], dailyLimit="9000000000")

    result = via_relay("policy", "set", "main", "--instant-max", "0.5")
    line = assert_one_line_error(result, "changed", "version 2", "re-run")
    assert "nothing was changed" in line.lower() or "nothing was written" in line.lower()
    # The CLI wrote with the version it read; the other writer's policy stands.
    assert ("PUT", path, '"1"') in relay.seen
    stored = _policy(daemon, wallet["id"])
    assert (stored["version"], stored["policy"]) == (2, {"dailyLimit": "9000000000"})

    # Re-run, as the message says: applied over the new version.
    ok(via_relay("policy", "set", "main", "--instant-max", "0.5"))
    stored = _policy(daemon, wallet["id"])
    assert (stored["version"], stored["policy"]) == (
        3,
        {"dailyLimit": "9000000000", "instantMax": "500000000"},
    )


def test_a_clear_racing_another_change_clears_nothing(via_relay, daemon, relay):
    wallet = daemon.create_wallet("main")
    path = f"/v1/wallets/{wallet['id']}/policy"
    daemon.api("PUT", path, json={"instantMax": "1"})
    relay.meanwhile[path] = _someone_else_sets(daemon, wallet["id"], instantMax="2")

    assert_one_line_error(via_relay("policy", "clear", "main"), "changed", "re-run")
    assert ("DELETE", path, '"1"') in relay.seen
    assert _policy(daemon, wallet["id"])["policy"] == {"instantMax": "2"}
    assert "Cleared the policy" in ok(via_relay("policy", "clear", "main"))
    assert _policy(daemon, wallet["id"])["policy"] == {}


def test_without_a_race_set_sends_the_version_it_read_and_applies(via_relay, daemon, relay):
    wallet = daemon.create_wallet("main")
    ok(via_relay("policy", "set", "main", "--daily-limit", "3"))
    ok(via_relay("policy", "set", "main", "--instant-max", "1"))
    path = f"/v1/wallets/{wallet['id']}/policy"
    assert [s for s in relay.seen if s[0] == "PUT"] == [("PUT", path, '"0"'), ("PUT", path, '"1"')]
    assert _policy(daemon, wallet["id"])["policy"] == {
        "dailyLimit": "3000000000",
        "instantMax": "1000000000",
    }
