import contextlib
import json
import os
import resource
import signal
import socket
import stat
import time

import httpx
import pytest

from tests.support.daemon import PASSWORD, running_daemon, start_daemon
from waiaas_daemon.serving.middleware import LOOPBACK_NAMES, host_allowed
from waiaas_daemon.serving.server import MAX_CONNECTIONS, connection_cap, refusal_due


def test_serve_listens_on_loopback_and_answers_health(daemon):
    assert daemon.base_url.startswith("http://127.0.0.1:")
    body = httpx.get(daemon.base_url + "/health").json()
    assert body["status"] == "ok" and isinstance(body["uptimeSeconds"], int)


def test_data_dir_is_private_and_pid_file_names_the_process(daemon):
    assert stat.S_IMODE(os.stat(daemon.data_dir).st_mode) == 0o700
    assert (daemon.data_dir / "daemon.pid").read_text().strip() == str(daemon.process.pid)
    assert stat.S_IMODE(os.stat(daemon.data_dir / "waiaas.db").st_mode) == 0o600


def test_sigterm_exits_zero_and_removes_the_pid_file(tmp_path):
    with running_daemon(tmp_path / "d") as running:
        assert running.stop(signal.SIGTERM) == 0
        assert not (running.data_dir / "daemon.pid").exists()


def test_sigint_exits_zero(tmp_path):
    with running_daemon(tmp_path / "d") as running:
        assert running.stop(signal.SIGINT) == 0


def test_wrong_master_password_on_a_later_start_is_refused(tmp_path):
    with running_daemon(tmp_path / "d") as first:
        first.stop()
    try:
        start_daemon(tmp_path / "d", password="not the password", timeout=30)
    except RuntimeError as exc:
        message = str(exc)
    else:
        raise AssertionError("the daemon started with a wrong password")
    assert "master password is wrong" in message
    assert "not the password" not in message and "Traceback" not in message


def test_second_daemon_on_the_same_data_dir_is_refused(daemon):
    try:
        start_daemon(daemon.data_dir, timeout=30)
    except RuntimeError as exc:
        assert "another waiaas-daemon" in str(exc)
    else:
        raise AssertionError("two daemons share one data dir")
    assert httpx.get(daemon.base_url + "/health").status_code == 200


def test_password_never_reaches_the_logs(daemon):
    wallet = daemon.create_wallet()
    daemon.api("GET", "/v1/wallets", headers={"X-Master-Password": "wrong password 42"})
    session = daemon.create_session(wallet["id"])
    daemon.stop()
    assert PASSWORD not in daemon.log
    assert "wrong password 42" not in daemon.log
    assert session["token"] not in daemon.log


# -- slow and hostile clients (SPEC 11) ---------------------------------------------

STACKS = {
    "httptools": ["--http", "httptools", "--loop", "uvloop"],
    "h11": ["--http", "h11", "--loop", "asyncio"],
}
# Short enough for tests, long enough that a test client slowed by a loaded machine
# still sends its headers in time.
QUICK = ["--header-timeout", "1", "--body-timeout", "3"]


def _address(daemon) -> tuple[str, int]:
    host, _, port = daemon.base_url.removeprefix("http://").rpartition(":")
    return host, int(port)


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the peer closes (EOF or reset) before ``seconds`` pass; data is skipped."""
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if sock.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        pass
    return False


def _health_within(base_url: str, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(base_url + "/health", timeout=2).status_code
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# One daemon per stack for each group of tests below (they open their own
# connections and change nothing): a start is the costliest part of such a test.
@pytest.fixture(scope="module", params=sorted(STACKS))
def quick_daemon(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("quick") / "d"
    with running_daemon(data_dir, args=[*STACKS[request.param], *QUICK]) as running:
        yield running


@pytest.fixture(scope="module", params=sorted(STACKS))
def stack_daemon(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack") / "d"
    with running_daemon(data_dir, args=STACKS[request.param]) as running:
        yield running


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_each_http_stack_starts_and_says_which_it_is(tmp_path, stack):
    with running_daemon(tmp_path / "d", args=STACKS[stack]) as running:
        assert httpx.get(running.base_url + "/health").status_code == 200
        running.stop()
    loop = "uvloop" if stack == "httptools" else "asyncio"
    assert f"serving with {stack} on {loop}" in running.log


def test_the_default_stack_is_httptools_on_uvloop_where_installed(daemon):
    daemon.stop()
    assert "serving with httptools on uvloop" in daemon.log


def test_log_lines_name_the_daemon_not_uvicorn(daemon):
    httpx.get(daemon.base_url + "/health")
    daemon.stop()
    assert "waiaas_daemon.serving.server" in daemon.log
    assert "uvicorn" not in daemon.log


def test_half_sent_headers_are_cut_off_after_the_header_timeout(quick_daemon):
    with socket.create_connection(_address(quick_daemon)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: loc")
        assert _closed_within(sock, 5)


def test_trickled_headers_do_not_move_the_header_deadline(quick_daemon):
    with socket.create_connection(_address(quick_daemon)) as sock:
        started = time.monotonic()
        for byte in b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 70:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.03)
        assert _closed_within(sock, 5)
        # 100 bytes 30 ms apart take 3 s; the 1 s header deadline did not move.
        assert time.monotonic() - started < 2.5


def test_a_body_that_stops_arriving_is_cut_off_after_the_body_timeout(quick_daemon):
    with socket.create_connection(_address(quick_daemon)) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"X-Master-Password: {PASSWORD}\r\n".encode()
            + b'Content-Length: 50\r\n\r\n{"na'
        )
        assert _closed_within(sock, 10)
        # The body has its own, longer deadline (3 s): the header one (1 s) no longer applies.
        assert time.monotonic() - started >= 2.5


def test_a_kept_alive_connection_gets_a_new_header_deadline_per_request(quick_daemon):
    with socket.create_connection(_address(quick_daemon)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /health HTTP/1.1\r\nHo")
        assert _closed_within(sock, 5)


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_half_open_connections_past_the_file_limit_leave_health_answering(tmp_path, stack):
    # 400 half-open connections against a 256-fd limit: the daemon caps what it
    # accepts, cuts the idle ones off, and says so in one line, not a flood.
    args = [*STACKS[stack], *QUICK]
    with running_daemon(tmp_path / "d", args=args, max_open_files=256) as running:
        address = _address(running)
        sockets = []
        try:
            for _ in range(400):
                sock = socket.create_connection(address)
                with contextlib.suppress(OSError):
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: local")
                sockets.append(sock)
            assert _health_within(running.base_url, 10) == 200
            assert sum(_closed_within(sock, 5) for sock in sockets) == 400
        finally:
            for sock in sockets:
                sock.close()
        assert _health_within(running.base_url, 5) == 200
        running.stop()
    log = running.log
    assert "Too many open files" not in log and "Traceback" not in log
    assert log.count("refused") <= 2 and len(log) < 2000, log


# -- errors uvicorn answers before the app sees the request -------------------------

MALFORMED = {
    "duplicate Host": b"GET /health HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n",
    "huge header": b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: "
    + b"a" * 200_000
    + b"\r\n\r\n",
    "many headers": b"GET /health HTTP/1.1\r\nHost: localhost\r\n"
    + b"X-A: b\r\n" * 20_000
    + b"\r\n",
    "negative Content-Length": b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\n"
    b"Content-Length: -1\r\n\r\n",
    "bad request line": b"GARBAGE\r\n\r\n",
    "bad chunk size": b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
}


def _exchange(address: tuple[str, int], raw: bytes) -> bytes:
    with socket.create_connection(address) as sock:
        sock.settimeout(5)
        with contextlib.suppress(OSError):
            sock.sendall(raw)
        data = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                data += chunk
        return data


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_http_level_errors_answer_400_with_our_json_error(stack_daemon, case):
    logged = len(stack_daemon.stderr_lines)
    answer = _exchange(_address(stack_daemon), MALFORMED[case])
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"content-type: application/json" in head.lower()
    error = json.loads(body)
    assert error["code"] in ("INVALID_REQUEST", "INVALID_HOST") and error["requestId"]
    assert httpx.get(stack_daemon.base_url + "/health").status_code == 200
    # What this case made the daemon log (its lines come before /health's answer).
    assert "Traceback" not in "\n".join(stack_daemon.stderr_lines[logged:])


# -- the Host header is matched exactly (SPEC 6, 11) ---------------------------------

REFUSED_HOSTS = [
    "127.0.0.1:80.evil.com",
    "[::1]evil.com",
    "[::1]:80evil",
    "localhost:abc",
    "localhost:-1",
    "localhost:0",
    "localhost:65536",
    "localhost:",
    "localhost:80:80",
    "localhost.",
    "localhost:+80",
    "localhost:٣١٠٠",
    "[::1",
    "127.0.0.1 ",
    "",
]
ACCEPTED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    "127.0.0.1:1",
    "localhost:65535",
    "[::1]:3100",
    "LocalHost:3100",
]


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_host_header_with_anything_after_a_loopback_name_is_refused(host):
    assert not host_allowed(host, LOOPBACK_NAMES)


@pytest.mark.parametrize("host", ACCEPTED_HOSTS)
def test_host_header_of_a_loopback_name_and_a_port_passes(host):
    assert host_allowed(host, LOOPBACK_NAMES)


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1:80.evil.com", "[::1]evil.com", "localhost:0"])
async def test_the_daemon_answers_invalid_host_for_a_suffixed_host(harness, host):
    response = await harness.http.get("/health", headers={"Host": host})
    assert response.status_code == 400 and response.json()["code"] == "INVALID_HOST"


# -- pure parts ----------------------------------------------------------------------


def test_connections_are_capped_below_the_file_limit():
    assert connection_cap(256, open_fds=20, reserved=32) == 204
    assert connection_cap(40, open_fds=20, reserved=32) == 0
    assert connection_cap(resource.RLIM_INFINITY, open_fds=20) == MAX_CONNECTIONS
    assert connection_cap(10**6, open_fds=20) == MAX_CONNECTIONS


def test_refusals_are_logged_at_most_once_a_minute():
    assert refusal_due(100.0, None)
    assert not refusal_due(159.0, 100.0)
    assert refusal_due(160.0, 100.0)
