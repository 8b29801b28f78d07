"""The e2e tests drive the real daemon with the real `waiaas` CLI and the real `waiaas-mcp`.

The CLI fixtures (``cli``, ``waiaas``) are the ones of tests/cli; ``daemon`` is the
shared real daemon of tests/conftest.py.
"""

from tests.cli.conftest import cli, home, waiaas

__all__ = ["cli", "home", "waiaas"]
