from waiaas_cli.errors import describe, to_click
from waiaas_core.errors import WaiaasError


def test_wrong_master_password_says_so():
    assert "master password is wrong" in describe(WaiaasError("INVALID_MASTER_PASSWORD"))


def test_lockout_says_locked_and_when_to_try_again():
    message = describe(WaiaasError("MASTER_PASSWORD_LOCKED", hint="Try again in 9 s."))
    assert message.endswith("locked after too many wrong master passwords. Try again in 9 s.")


def test_lockout_without_a_hint_says_to_try_later():
    assert describe(WaiaasError("MASTER_PASSWORD_LOCKED")).endswith("Try again later.")


def test_session_limit_points_at_revoke():
    assert "waiaas session revoke" in describe(WaiaasError("SESSION_LIMIT_EXCEEDED"))


def test_other_codes_show_the_daemons_message_and_code():
    message = describe(WaiaasError("WALLET_NOT_FOUND", "No wallet abc."))
    assert message == "No wallet abc. (WALLET_NOT_FOUND)"


def test_file_system_errors_name_the_file():
    error = to_click(PermissionError(13, "Permission denied", "/x/mcp-tokens"))
    assert error.message == "Permission denied: /x/mcp-tokens"
