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
    # Test modules run in parallel, one worker per core; a module stays on one
    # worker, so the module-scoped daemons some of them share stay shared.
    session.run("pytest", "-n", "auto", "--dist", "loadfile", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and mypy over the four packages."""
    session.install(*PACKAGES, *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
