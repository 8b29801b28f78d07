"""The test entry: all four packages installed together, then pytest over tests/."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint"]

PACKAGES = ["./packages/core", "./packages/daemon", "./packages/mcp", "./packages/cli"]
PYPROJECT = nox.project.load_toml("pyproject.toml")


@nox.session
def tests(session: nox.Session) -> None:
    """Install the packages (not editable) and the test tools, then run pytest."""
    # One install call, so the resolver takes the local waiaas-core for everyone.
    session.install(*PACKAGES, *nox.project.dependency_groups(PYPROJECT, "test"))
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def bump(session: nox.Session) -> None:
    """Set one version on all four packages (and the waiaas-core pins): nox -s bump -- 0.2.0."""
    session.run("python3", "tools/bump_version.py", *session.posargs)
