"""Policy writes with If-Match through two real daemons on one PostgreSQL database:
two owners who read the same version and write at once through different daemons,
one wins and the other gets 409 POLICY_VERSION_CONFLICT, never both (lost update)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.test_multi_daemon import daemons, in_parallel
from tests.support.local_node import LocalNode, running_local_node

pytestmark = pytest.mark.slow


@pytest.fixture
def node(tmp_path: Path) -> Iterator[LocalNode]:
    with running_local_node(tmp_path / "local-node.db") as running:
        yield running


def test_if_match_writes_through_two_daemons_have_one_winner(tmp_path, postgres_url, node):
    with daemons(tmp_path, postgres_url, node, 2) as (a, b):
        wallet = a.create_wallet()
        path = f"/v1/wallets/{wallet['id']}/policy"
        version = b.api("GET", path).json()["version"]
        for round_ in range(5):
            writes = in_parallel(
                [
                    lambda d=d, n=n, v=version, r=round_: d.api(
                        "PUT",
                        path,
                        json={"instantMax": str(1000 + 10 * r + n)},
                        headers={"If-Match": f'"{v}"'},
                    )
                    for n, d in enumerate((a, b, a, b))
                ]
            )
            codes = sorted(w.status_code for w in writes)
            assert codes == [200, 409, 409, 409], [w.text for w in writes]
            [won] = [w for w in writes if w.status_code == 200]
            lost = [w.json() for w in writes if w.status_code == 409]
            assert {e["code"] for e in lost} == {"POLICY_VERSION_CONFLICT"}
            assert won.json()["version"] == version + 1
            stored = a.api("GET", path).json()
            assert stored["version"] == version + 1
            assert stored["policy"]["instantMax"] == won.json()["policy"]["instantMax"]
            version += 1
        sets = a.api("GET", "/v1/audit", params={"action": "policy.set", "limit": 100}).json()
        assert len(sets["items"]) == 5
