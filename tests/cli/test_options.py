from waiaas_cli.options import State


def test_base_url_flag_beats_environment_and_config(tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nport = 3999\n")
    state = State(
        base_url_flag="http://127.0.0.1:1/",
        data_dir_flag=str(tmp_path),
        env={"WAIAAS_BASE_URL": "http://127.0.0.1:2"},
    )
    assert state.base_url == "http://127.0.0.1:1"


def test_base_url_environment_beats_config(tmp_path):
    (tmp_path / "config.toml").write_text("[daemon]\nport = 3999\n")
    state = State(data_dir_flag=str(tmp_path), env={"WAIAAS_BASE_URL": "http://127.0.0.1:2"})
    assert state.base_url == "http://127.0.0.1:2"


def test_base_url_comes_from_config_toml_of_the_data_dir(tmp_path):
    (tmp_path / "config.toml").write_text('[daemon]\nhost = "localhost"\nport = 3999\n')
    assert State(data_dir_flag=str(tmp_path), env={}).base_url == "http://localhost:3999"


def test_base_url_defaults_to_port_3100_on_loopback(tmp_path):
    assert State(data_dir_flag=str(tmp_path), env={}).base_url == "http://127.0.0.1:3100"


def test_data_dir_flag_beats_environment_which_beats_home(tmp_path):
    env = {"WAIAAS_DATA_DIR": str(tmp_path / "env")}
    assert State(data_dir_flag=str(tmp_path / "flag"), env=env).data_dir == tmp_path / "flag"
    assert State(env=env).data_dir == tmp_path / "env"
    assert State(env={}).data_dir.name == ".waiaas"


def test_password_flag_beats_environment():
    env = {"WAIAAS_MASTER_PASSWORD": "from-env"}
    assert State(password_flag="from-flag", env=env).password() == "from-flag"
    assert State(env=env).password() == "from-env"
