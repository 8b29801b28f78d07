"""`waiaas wallet airdrop WALLET 12.5 --token USDC` against a real daemon's local test mint."""

from __future__ import annotations


def test_a_usdc_airdrop_in_whole_units_lands_as_base_units(waiaas, daemon):
    wallet = daemon.create_wallet("main")
    result = waiaas("wallet", "airdrop", "main", "12.5", "--token", "usdc")
    assert result.returncode == 0, result.stderr
    assert "12.5 USDC" in result.stdout
    token = daemon.create_session(wallet["id"])["token"]
    with daemon.client(headers={"Authorization": f"Bearer {token}"}) as http:
        items = http.get("/v1/wallet/assets").json()["items"]
    assert [(i["symbol"], i["amount"], i["decimals"]) for i in items[1:]] == [
        ("USDC", "12500000", 6)
    ]
