import stat

from waiaas_core.config import CONFIG_TEMPLATE, load_settings


def test_init_creates_a_private_data_dir_with_the_commented_config(cli, tmp_path):
    data_dir = tmp_path / "nested" / "data"
    result = cli("init", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert (data_dir / "config.toml").read_text() == CONFIG_TEMPLATE
    assert str(data_dir) in result.stdout and "waiaas-daemon serve" in result.stdout
    assert load_settings(data_dir, env={}).port == 3100  # every key commented out


def test_init_under_umask_000_writes_the_config_0600_and_the_dir_0700(cli, tmp_path):
    data_dir = tmp_path / "data"
    result = cli("init", "--data-dir", str(data_dir), umask=0)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((data_dir / "config.toml").stat().st_mode) == 0o600
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_init_keeps_an_existing_config(cli, tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nport = 3200\n")
    result = cli("init", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "config.toml").read_text() == "[daemon]\nport = 3200\n"
    assert "Kept" in result.stdout


def test_init_takes_the_data_dir_from_the_environment(cli, tmp_path):
    result = cli("init", env={"WAIAAS_DATA_DIR": str(tmp_path / "env-data")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "env-data" / "config.toml").is_file()


def test_init_defaults_to_dot_waiaas_in_home(cli, home):
    assert cli("init").returncode == 0
    assert stat.S_IMODE((home / ".waiaas").stat().st_mode) == 0o700
