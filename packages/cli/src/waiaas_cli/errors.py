"""What the CLI tells a user for each kind of failure: one line, never a traceback.

``WaiaasError`` from the daemon, ``ConfigError`` from config.toml and ``OSError``
from the file system become ``click.ClickException`` (``Error: ...`` on
stderr, exit code 1) at the top of the command tree.
"""

from __future__ import annotations

import click

from waiaas_core.errors import WaiaasError

# Where the daemon's own message is not enough to act on.
_MESSAGES = {
    "INVALID_MASTER_PASSWORD": "the master password is wrong "
    "(from --password, $WAIAAS_MASTER_PASSWORD or the prompt).",
    "MASTER_PASSWORD_LOCKED": "the daemon is locked after too many wrong master passwords.",
    "SESSION_LIMIT_EXCEEDED": "the wallet has the maximum number of active sessions; "
    "revoke one with `waiaas session revoke ID` (see `waiaas session list`).",
}

# Said when the daemon sends no hint of its own.
_HINTS = {"MASTER_PASSWORD_LOCKED": "Try again later."}


def describe(error: WaiaasError) -> str:
    message = _MESSAGES.get(error.code) or f"{error.message} ({error.code})"
    hint = error.hint or _HINTS.get(error.code)
    return f"{message} {hint}" if hint else message


def to_click(error: Exception) -> click.ClickException:
    if isinstance(error, WaiaasError):
        return click.ClickException(describe(error))
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return click.ClickException(f"{error.strerror or error}{where}")
    return click.ClickException(str(error))
