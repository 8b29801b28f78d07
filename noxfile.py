"""The test entry: all four packages installed together, then pytest over tests/."""

import glob
import os
import shutil
from pathlib import Path

import nox

# uv when it is installed (.ci/run installs it beside nox): the session's install
# takes 13 s instead of 51 s. Plain venv + pip otherwise; both give the same packages.
nox.options.default_venv_backend = "uv|venv"
# Compiled at install, as pip does: otherwise each of the suite's hundreds of
# processes compiles what it imports (PYTHONDONTWRITEBYTECODE is often set on CI).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
nox.options.reuse_existing_virtualenvs = False
# One session by default: the test tools and the linters share one virtualenv (a second
# one costs CI about a minute of installing the same packages again).
nox.options.sessions = ["tests"]

PACKAGES = ["./packages/core", "./packages/daemon", "./packages/mcp", "./packages/cli"]
PYPROJECT = nox.project.load_toml("pyproject.toml")
# The console's browser tests drive Debian's Chromium through Playwright's
# executable_path; Playwright's own browser download is not reachable from CI.
CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium(session: nox.Session) -> None:
    """Install Debian's chromium package when it is missing (CI runs as root on Debian)."""
    if CHROMIUM.exists():
        return
    apt_install(session, "chromium", why=f"The console's browser tests need Chromium at {CHROMIUM}")


def ensure_postgresql(session: nox.Session) -> None:
    """Install Debian's postgresql package when initdb is missing.

    The storage tests start a throwaway PostgreSQL server of their own
    (tests/support/postgres.py); they fail, not skip, without one.
    """
    if shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    if os.environ.get("WAIAAS_TEST_NO_POSTGRES") == "1":
        return  # the PostgreSQL tests skip themselves
    apt_install(
        session,
        "postgresql",
        why="The storage tests need initdb (or WAIAAS_TEST_NO_POSTGRES=1 to skip them)",
    )


def apt_install(session: nox.Session, package: str, *, why: str) -> None:
    """apt-get install a missing Debian package, as root (CI); otherwise one clear line."""
    if shutil.which("apt-get") is None:
        session.error(f"{why}: install {package}; this system has no apt-get.")
    if os.geteuid() != 0:
        session.error(
            f"{why}: install it first (sudo apt-get install {package}) or run nox as root, "
            "which installs it."
        )
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", external=True, env=env)
    session.run("apt-get", "install", "-y", package, external=True, env=env)


# The EVM tests' npm tools, pinned: anvil (its Linux binary comes in the platform
# package @foundry-rs/anvil-linux-amd64) and the solc compiler the test contracts
# are rebuilt with (tools/build_contracts.mjs pins the same version).
NPM_PREFIX = Path(
    os.environ.get("WAIAAS_NPM_PREFIX") or Path.home() / ".cache" / "waiaas-tests" / "npm"
)
NPM_TOOLS = {"@foundry-rs/anvil": "1.7.1", "solc": "0.8.28"}


def _npm_installed(name: str) -> str | None:
    package = NPM_PREFIX / "node_modules" / name / "package.json"
    if not package.exists():
        return None
    import json

    return str(json.loads(package.read_text()).get("version"))


def ensure_npm_tools(session: nox.Session) -> None:
    """npm install anvil and solc under NPM_PREFIX when missing (Debian's npm when npm is)."""
    anvil = glob.glob(str(NPM_PREFIX / "node_modules/@foundry-rs/anvil-*/bin/anvil"))
    missing = [
        f"{name}@{version}"
        for name, version in NPM_TOOLS.items()
        if _npm_installed(name) != version or (name == "@foundry-rs/anvil" and not anvil)
    ]
    if not missing:
        return
    if shutil.which("npm") is None:
        apt_install(session, "npm", why="The EVM tests need npm (anvil and solc come from npm)")
    NPM_PREFIX.mkdir(parents=True, exist_ok=True)
    session.run(
        "npm",
        "install",
        "--prefix",
        str(NPM_PREFIX),
        "--no-audit",
        "--no-fund",
        "--save-exact",
        *missing,
        external=True,
    )


@nox.session
def tests(session: nox.Session) -> None:
    """Install the packages (not editable), the test tools and linters, Chromium, PostgreSQL,
    anvil and solc; run ruff, mypy, then pytest."""
    ensure_chromium(session)
    ensure_postgresql(session)
    ensure_npm_tools(session)
    session.env["WAIAAS_NPM_PREFIX"] = str(NPM_PREFIX)
    # One install call, so the resolver takes the local waiaas-core for everyone.
    session.install(
        *PACKAGES,
        *nox.project.dependency_groups(PYPROJECT, "test"),
        *nox.project.dependency_groups(PYPROJECT, "lint"),
    )
    run_linters(session)
    # Test modules run in parallel, one worker more than there are cores: part of the
    # suite waits on real timeouts and other processes (on 2 cores: 728 s against 783 s
    # with one worker per core). A module stays on one worker, so the module-scoped
    # daemons some of them share stay shared.
    workers = str((os.cpu_count() or 1) + 1)
    # Files in the order tests/conftest.py gives (the heaviest first), not xdist's.
    session.run(
        "pytest",
        "-n",
        workers,
        "--dist",
        "loadfile",
        "--no-loadscope-reorder",
        "--durations",
        "15",
        *session.posargs,
    )


def run_linters(session: nox.Session) -> None:
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check, and mypy over the four packages (also run by tests)."""
    session.install(*PACKAGES, *nox.project.dependency_groups(PYPROJECT, "lint"))
    run_linters(session)


@nox.session(venv_backend="none")
def bump(session: nox.Session) -> None:
    """Set one version on all four packages (and the waiaas-core pins): nox -s bump -- 0.2.0."""
    session.run("python3", "tools/bump_version.py", *session.posargs)
