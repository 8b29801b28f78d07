import os
import signal
import stat

import httpx

from tests.support.daemon import PASSWORD, running_daemon, start_daemon


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
