"""The official TypeScript SDK's Streamable HTTP client against the daemon's /mcp."""

import json
import os
import shutil
import subprocess

import pytest

from tests.mcp.test_typescript_client import HERE, ts_client  # noqa: F401 (a fixture)

pytestmark = pytest.mark.slow


def test_typescript_http_client_lists_tools_calls_one_and_reads_a_resource(
    daemon,
    ts_client,  # noqa: F811
):
    script = ts_client.parent / "http_client.mjs"
    shutil.copy(HERE / "http_client.mjs", script)
    wallet = daemon.create_wallet("remote")
    session = daemon.create_session(wallet["id"], label="mcp-http")
    result = subprocess.run(
        ["node", str(script)],
        env={**os.environ, "MCP_URL": f"{daemon.base_url}/mcp", "MCP_TOKEN": session["token"]},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert "send_token" in seen["tools"] and "get_session_info" in seen["tools"]
    assert len(seen["tools"]) >= 10
    assert seen["resources"] == [
        "waiaas://system/status",
        "waiaas://wallet/address",
        "waiaas://wallet/assets",
        "waiaas://wallet/balance",
    ]
    assert seen["address"]["isError"] is False
    assert json.loads(seen["address"]["content"][0]["text"])["address"] == wallet["address"]
    assert json.loads(seen["resource"]["text"])["address"] == wallet["address"]
