"""Clients that go away in the middle of a request body: at most one quiet line each.

Raw sockets against a real ``waiaas-daemon serve``: each sends the headers of a
masterAuth POST and half its body, then closes its side. The daemon must not
log an ERROR or a traceback for any of them (it wrote a 60-line traceback each).
"""

from __future__ import annotations

import socket

from tests.faults.support import wait_until
from tests.support.daemon import PASSWORD, running_daemon

CLIENTS = 150


def half_a_request(host: str, port: int) -> socket.socket:
    body = b'{"name": "abandoned-wallet-with-a-long-name"}'
    sock = socket.create_connection((host, port), timeout=10)
    head = (
        f"POST /v1/wallets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"X-Master-Password: {PASSWORD}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[: len(body) // 2])
    return sock


def test_clients_closing_mid_body_leave_no_error_and_at_most_a_line_each(tmp_path):
    with running_daemon(tmp_path / "d") as daemon:
        host, port = daemon.base_url.removeprefix("http://").rsplit(":", 1)
        before = len(daemon.stderr_lines)
        clients = [half_a_request(host, int(port)) for _ in range(CLIENTS)]
        for sock in clients:
            sock.shutdown(socket.SHUT_WR)  # the end of the body never comes
        for sock in clients:
            # The daemon closes its side once it has seen the client go.
            assert sock.recv(65536) == b""
            sock.close()
        # A request after them: the daemon is fine, and their handling is done by now.
        assert daemon.api("GET", "/v1/wallets").status_code == 200
        wait_until(lambda: daemon.api("GET", "/v1/wallets").json()["items"] == [])
        daemon.stop()
    new = daemon.stderr_lines[before:]
    assert not [line for line in new if "ERROR" in line or "Traceback" in line], "\n".join(new)
    assert len(new) <= CLIENTS + 5, len(new)
