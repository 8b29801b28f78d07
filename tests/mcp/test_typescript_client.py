"""Claude Desktop speaks MCP through the official TypeScript SDK: drive waiaas-mcp with it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "typescript"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def ts_client(tmp_path_factory) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the TypeScript client")
    folder = tmp_path_factory.mktemp("ts-client")
    for name in ("package.json", "client.mjs"):
        shutil.copy(HERE / name, folder / name)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "client.mjs"


def test_typescript_client_lists_tools_calls_one_and_reads_a_resource(daemon, ts_client):
    wallet = daemon.create_wallet("desk")
    response = daemon.api("POST", "/v1/mcp/tokens", json={"walletId": wallet["id"]})
    entry = response.json()["claudeDesktopConfig"]["mcpServers"]["waiaas-desk"]
    env = {**entry["env"], "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        ["node", str(ts_client)],
        env={
            **os.environ,
            "MCP_COMMAND": json.dumps([sys.executable, "-m", "waiaas_mcp"]),
            "MCP_ENV": json.dumps(env),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["tools"] == sorted(
        [
            "cancel_transaction",
            "get_address",
            "get_assets",
            "get_balance",
            "get_nonce",
            "get_policy",
            "get_session_info",
            "get_transaction",
            "list_transactions",
            "pay_for_resource",
            "send_token",
        ]
    )
    assert seen["resources"] == [
        "waiaas://system/status",
        "waiaas://wallet/address",
        "waiaas://wallet/assets",
        "waiaas://wallet/balance",
    ]
    assert seen["address"]["isError"] is False
    assert json.loads(seen["address"]["content"][0]["text"])["address"] == wallet["address"]
    assert json.loads(seen["resource"]["text"])["address"] == wallet["address"]
