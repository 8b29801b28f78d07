"""Smoke test of benchmarks/load_test.py: a few clients for three seconds, every check run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def load_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    summary_path = tmp_path_factory.mktemp("load") / "summary.json"
    argv = ["--seconds", "3", "--clients", "6", "--wallets", "2", "--ttl", "2"]
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.load_test", *argv, "--json", str(summary_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert summary_path.exists(), completed.stdout + completed.stderr
    return json.loads(summary_path.read_text()), completed.stdout


def test_load_test_mixes_reads_sends_and_renewals(load_run):
    summary, output = load_run
    assert summary["requests"] > 0
    assert {"renew", "send", "GET address"} <= set(summary["statuses"]), output
    assert summary["p99"] > 0


def test_load_test_passes_every_check(load_run):
    summary, output = load_run
    failed = {name: c["detail"] for name, c in summary["checks"].items() if not c["ok"]}
    assert not failed, output
