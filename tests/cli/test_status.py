from tests.cli.checks import assert_one_line_error


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
