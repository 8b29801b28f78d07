"""The EVM test contracts: Solidity in ``src/``, solc's artifacts (ABI, bytecode) beside it.

- ``TestUSDC``: an ERC-20 with 6 decimals, Circle's FiatToken EIP-712 domain
  (name "USD Coin", version "2"), EIP-3009 transfers by authorization and a
  ``mint`` for the minter fixed at deployment (its constructor's argument).
- ``RevertingToken``: an ERC-20 anyone may mint whose transfers always revert
  with ``RevertingToken: transfers are disabled``.

``tools/build_contracts.sh`` rebuilds the artifacts with the pinned solc from
npm; tests/daemon/test_evm_contracts.py checks they match the sources.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

NAMES = ("TestUSDC", "RevertingToken")


@cache
def artifact(name: str) -> dict[str, Any]:
    """``{"abi", "bytecode", "deployedBytecode", "metadata", ...}`` of one contract."""
    if name not in NAMES:
        raise KeyError(name)
    text = resources.files(__name__).joinpath(f"{name}.json").read_text("utf-8")
    return dict(json.loads(text))


def creation_code(name: str) -> bytes:
    """The bytecode a deployment sends (constructor arguments are appended to it)."""
    return bytes.fromhex(artifact(name)["bytecode"].removeprefix("0x"))


def runtime_code(name: str) -> bytes:
    """The code the contract's account holds once deployed."""
    return bytes.fromhex(artifact(name)["deployedBytecode"].removeprefix("0x"))
