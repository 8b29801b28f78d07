"""An idle daemon on the embedded defaults carries only what it uses (docs/benchmarks.md, memory).

Structural, in a fresh interpreter: the daemon's state opened on a data dir as
``serve`` opens it, its app built, and then none of the features' heavy parts
is loaded: the MCP SDK (``/mcp``), the console's templates (jinja2), the SPL
instruction builders (solana-py: pydantic, construct), PostgreSQL's driver, the
EVM libraries, and the local chain's runtime (LiteSVM) is not built yet. Each
of these was loaded at start before (the daemon then used 82 MiB idle where it
now uses about 70).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

PROBE = r"""
import json, sys
from pathlib import Path

import anyio

from waiaas_core.config import load_settings
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.serving.app import create_app


async def main(data_dir):
    settings = load_settings(data_dir)
    async with DaemonState.open(settings, data_dir, "correct horse battery") as state:
        create_app(state)
        local = state.chains.get("local")
        heavy = ["mcp", "jinja2", "spl", "solana", "pydantic", "asyncpg", "eth_account",
                 "eth_utils", "eth", "evm", "pyrevm", "construct", "aiohttp"]
        print(json.dumps({
            "loaded": sorted(m for m in heavy if m in sys.modules),
            "runtime_built": getattr(local, "_runtime", None) is not None,
        }))


anyio.run(main, Path(sys.argv[1]))
"""


def probe(data_dir: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(data_dir)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_an_idle_daemon_loads_no_feature_it_has_not_used(tmp_path):
    data_dir = tmp_path / "data"
    probe(data_dir)  # the first start creates the local test mint (it uses the chain)
    found = probe(data_dir)
    assert found["loaded"] == []
    assert found["runtime_built"] is False
