"""The committed test contracts' artifacts match their Solidity sources.

Fast checks, no npm: each artifact's solc metadata records the keccak256 of the
source it was compiled from and the compiler; both must match the source in the
tree and the version the build script pins, and the bytecode must carry that
compiler's version in its CBOR tail. The slow check rebuilds everything with the
pinned solc from npm (installed by the nox session, ~8 s) and compares byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from eth_utils import keccak

from waiaas_daemon.chain.evm import contracts

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "packages/daemon/src/waiaas_daemon/chain/evm/contracts"
BUILD = ROOT / "tools/build_contracts.mjs"


def pinned_solc() -> str:
    found = re.search(r"SOLC_VERSION = '([0-9.]+)'", BUILD.read_text())
    assert found
    return found.group(1)


@pytest.mark.parametrize("name", contracts.NAMES)
def test_the_artifact_was_built_from_the_source_in_the_tree(name):
    artifact = contracts.artifact(name)
    metadata = json.loads(artifact["metadata"])
    source_name = artifact["sourceName"].removeprefix("src/")
    source = (CONTRACTS / "src" / source_name).read_bytes()
    assert metadata["sources"][source_name]["keccak256"] == "0x" + keccak(source).hex()
    assert metadata["compiler"]["version"].startswith(pinned_solc() + "+")
    assert artifact["compiler"]["version"].startswith(metadata["compiler"]["version"])
    # solc appends CBOR metadata ending in {"solc": <major, minor, patch>} and its length.
    major, minor, patch = (int(x) for x in pinned_solc().split("."))
    runtime = contracts.runtime_code(name)
    assert b"dsolcC" + bytes([major, minor, patch]) in runtime[-64:]
    assert metadata["settings"]["evmVersion"] == "paris"


def test_nox_installs_the_solc_the_build_pins():
    noxfile = (ROOT / "noxfile.py").read_text()
    assert f'"solc": "{pinned_solc()}"' in noxfile


def _npm_prefix() -> Path:
    from tests.support.anvil import npm_prefix

    return npm_prefix()


@pytest.mark.slow
def test_rebuilding_with_the_pinned_solc_gives_the_committed_bytes():
    solc = _npm_prefix() / "node_modules" / "solc" / "package.json"
    if not solc.exists():
        pytest.fail(
            f"no solc under {_npm_prefix()}: nox -s tests installs it (tools/build_contracts.sh)"
        )
    env = {**os.environ, "WAIAAS_NPM_PREFIX": str(_npm_prefix())}
    done = subprocess.run(
        ["node", str(BUILD), "--check"], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
