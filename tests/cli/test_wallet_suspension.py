"""`waiaas wallet list` says why a wallet is suspended and since when (issue #21)."""

import json

from tests.cli.checks import ok
from waiaas_cli.output import iso_time


def test_list_says_why_and_since_when_a_wallet_is_suspended(waiaas, daemon):
    held, free = daemon.create_wallet("held"), daemon.create_wallet("free")
    suspended = daemon.api(
        "POST", f"/v1/wallets/{held['id']}/suspend", json={"reason": "odd sends at night"}
    ).json()
    out = ok(waiaas("wallet", "list"))
    note = f"held is suspended since {iso_time(suspended['since'])}: odd sends at night"
    assert note in out.splitlines()
    assert "free is suspended" not in out
    listed = {w["name"]: w for w in json.loads(ok(waiaas("wallet", "list", "--json")))}
    assert listed["held"]["suspendedReason"] == "odd sends at night"
    assert listed["held"]["suspendedAt"] == suspended["since"]
    assert (listed["free"]["suspendedReason"], listed["free"]["suspendedAt"]) == (None, None)
    assert free["suspendedReason"] is None
