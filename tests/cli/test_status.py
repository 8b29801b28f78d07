import json
import os
import pty
import select
import subprocess
import sys
import time

from tests.cli.checks import assert_one_line_error, ok
from tests.support.daemon import running_daemon


def test_unreachable_daemon_names_the_url_and_how_to_start_it(cli, refused_url):
    result = cli("status", "--base-url", refused_url)
    assert_one_line_error(result, refused_url, "waiaas-daemon serve")
    assert "Master password" not in result.stderr  # no prompt before the daemon answers


def test_unreachable_daemon_at_the_port_of_config_toml(cli, tmp_path, refused_url):
    port = refused_url.rsplit(":", 1)[1]
    (tmp_path / "config.toml").write_text(f"[daemon]\nport = {port}\n")
    result = cli("status", "--data-dir", str(tmp_path))
    assert_one_line_error(result, f"http://127.0.0.1:{port}")


def test_unreachable_daemon_at_waiaas_base_url(cli, refused_url):
    result = cli("status", env={"WAIAAS_BASE_URL": refused_url})
    assert_one_line_error(result, refused_url)


def test_broken_config_toml_is_one_line_error(cli, tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nprot = 1\n")
    assert_one_line_error(cli("status", "--data-dir", str(tmp_path)), "unknown key 'prot'")


def test_url_that_is_not_http_is_one_line_error(cli):
    assert_one_line_error(cli("status", "--base-url", "ftp://x"), "not a valid http:// URL")


def test_status_shows_health_network_and_counts(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    daemon.create_session(wallet["id"])
    out = ok(waiaas("status"))
    assert f"Daemon:          {daemon.base_url} (ok)" in out
    assert "Network:         local" in out
    assert "Wallets:         1" in out and "Active sessions: 1" in out


def test_status_json_holds_health_and_admin_status(waiaas, daemon):
    status = json.loads(ok(waiaas("status", "--json")))
    assert status["baseUrl"] == daemon.base_url
    assert status["health"]["status"] == "ok" and status["admin"]["walletCount"] == 0


def test_wrong_master_password_says_it_is_wrong(waiaas):
    result = waiaas("status", env={"WAIAAS_MASTER_PASSWORD": "not it"})
    assert_one_line_error(result, "master password is wrong")
    assert "not it" not in result.stderr


def test_password_flag_is_used(waiaas, daemon):
    ok(waiaas("status", "--password", daemon.password, env={"WAIAAS_MASTER_PASSWORD": ""}))


def test_password_is_read_from_piped_stdin_without_flag_or_variable(waiaas, daemon):
    result = waiaas("status", env={"WAIAAS_MASTER_PASSWORD": ""}, input=daemon.password + "\n")
    assert "Wallets:" in ok(result)
    assert daemon.password not in result.stdout + result.stderr


def test_password_is_prompted_for_hidden_on_a_terminal(daemon, home):
    # A pseudo-terminal as stdin and stderr; a new session so it is the only terminal.
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAIAAS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "waiaas_cli", "status", "--base-url", daemon.base_url],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env | {"HOME": str(home)},
        start_new_session=True,
    )
    os.close(terminal)
    try:
        seen = _read_until(controller, b"Master password: ")
        os.write(controller, daemon.password.encode() + b"\n")
        stdout, _ = process.communicate(timeout=30)
        seen += _read_rest(controller)
    finally:
        os.close(controller)
    assert process.returncode == 0 and b"Wallets:" in stdout
    assert daemon.password.encode() not in seen  # not echoed


def _read_until(fd, marker, timeout=30.0):
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no prompt, only {data!r}"
        data += os.read(fd, 1024)
    return data


def _read_rest(fd):
    data = b""
    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        data += chunk
    return data


def test_lockout_says_locked_and_to_try_later(cli, tmp_path):
    config = {"security": {"master_lockout_attempts": 2}}
    with running_daemon(tmp_path / "data", config=config) as daemon:
        where = ("--base-url", daemon.base_url)
        wrong = {"WAIAAS_MASTER_PASSWORD": "wrong"}
        for _ in range(2):
            assert_one_line_error(cli("status", *where, env=wrong), "master password is wrong")
        right = {"WAIAAS_MASTER_PASSWORD": daemon.password}
        assert_one_line_error(cli("status", *where, env=right), "locked", "Try again in")


def test_no_password_at_all_is_one_line_error(waiaas):
    result = waiaas("status", env={"WAIAAS_MASTER_PASSWORD": ""}, input="")
    assert_one_line_error(result, "no master password", "--password", "WAIAAS_MASTER_PASSWORD")
