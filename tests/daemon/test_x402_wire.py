"""The x402 wire format (pure), the payment transaction's layout, and the x402 policy rules."""

from __future__ import annotations

import base64
import json

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from tests.daemon.conftest import MASTER
from waiaas_core.errors import WaiaasError
from waiaas_daemon.chain import spl
from waiaas_daemon.chain.base import TOKEN_PROGRAM
from waiaas_daemon.chain.x402 import build_exact_payment
from waiaas_daemon.domain import payments, policy, x402

MINT = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU"
PAY_TO = "9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin"
FEE_PAYER = str(Keypair().pubkey())


def _entry(**changes):
    entry = {
        "scheme": "exact",
        "network": "solana:localnet",
        "amount": "1000",
        "asset": MINT,
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": FEE_PAYER},
    }
    return {**entry, **changes}


def _header(document) -> dict[str, str]:
    return {"PAYMENT-REQUIRED": base64.b64encode(json.dumps(document).encode()).decode()}


def test_v2_requirements_come_from_the_header_and_v1_from_the_body():
    v2 = x402.parse_challenge(_header({"x402Version": 2, "accepts": [_entry()]}), b"")
    assert (v2.version, v2.accepts[0].amount, v2.accepts[0].fee_payer) == (2, 1000, FEE_PAYER)
    v1_entry = _entry(network="solana-localnet", maxAmountRequired="7")
    del v1_entry["amount"]
    body = json.dumps({"x402Version": 1, "accepts": [v1_entry]}).encode()
    v1 = x402.parse_challenge({}, body)
    assert (v1.version, v1.accepts[0].amount) == (1, 7)


@pytest.mark.parametrize(
    "headers,body",
    [
        ({}, b"<html>pay me</html>"),
        ({"PAYMENT-REQUIRED": "%%%"}, b""),
        ({}, json.dumps({"x402Version": 3, "accepts": [_entry()]}).encode()),
        ({}, json.dumps({"x402Version": 2, "accepts": []}).encode()),
    ],
)
def test_a_garbled_402_is_a_clear_payment_failed(headers, body):
    with pytest.raises(WaiaasError) as caught:
        x402.parse_challenge(headers, body)
    assert caught.value.code == "PAYMENT_FAILED"


def test_only_the_exact_scheme_on_an_accepted_network_with_a_fee_payer_is_chosen():
    challenge = x402.parse_challenge(
        _header(
            {
                "x402Version": 2,
                "accepts": [
                    _entry(scheme="upto"),
                    _entry(network="eip155:8453"),
                    _entry(extra={}),
                    _entry(amount="0"),
                    _entry(amount="42"),
                ],
            }
        ),
        b"",
    )
    assert x402.choose(challenge, ["solana:localnet"]).amount == 42
    with pytest.raises(WaiaasError) as caught:
        x402.choose(challenge, ["solana"])
    assert caught.value.code == "PAYMENT_UNSUPPORTED"
    assert "eip155:8453" in caught.value.message and "upto" in caught.value.message


BASE_USDC = {
    "scheme": "exact",
    "network": "eip155:8453",
    "amount": "1000",
    "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    "payTo": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
    "maxTimeoutSeconds": 60,
    "extra": {"name": "USD Coin", "version": "2"},
}


def _offers(*entries):
    return x402.parse_challenge(_header({"x402Version": 2, "accepts": list(entries)}), b"")


def test_several_ways_to_pay_are_tried_in_the_owners_order_then_the_resources():
    devnet = "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"
    challenge = _offers(
        BASE_USDC,
        _entry(amount="1"),
        _entry(network=devnet, amount="2"),
        _entry(amount="3"),
    )
    both = ["solana:localnet", devnet]
    # No preference: the resource's order among what the wallet pays; Base is skipped.
    assert [r.amount for r in x402.candidates(challenge, both)] == [1, 2, 3]
    # The owner prefers devnet, named either way (v1 name or CAIP-2 id).
    for name in ("solana-devnet", devnet):
        assert [r.amount for r in x402.candidates(challenge, both, [name])] == [2, 1, 3]
    # A preferred network the wallet does not pay on changes nothing.
    assert [r.amount for r in x402.candidates(challenge, both, ["base"])] == [1, 2, 3]
    assert x402.choose(challenge, ["solana:localnet"], [devnet]).amount == 1
    assert x402.canonical("solana") == "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"


def test_the_payment_is_the_exact_schemes_layout_signed_by_the_payer_only():
    payer = Keypair()
    prepared = build_exact_payment(
        payer, FEE_PAYER, PAY_TO, MINT, 1000, 6, TOKEN_PROGRAM, Hash.new_unique()
    )
    tx = VersionedTransaction.from_bytes(prepared.raw)
    keys = [str(k) for k in tx.message.account_keys]
    assert keys[0] == FEE_PAYER and keys[1] == str(payer.pubkey())
    assert str(tx.signatures[1]) == prepared.signature
    assert tx.signatures[0] == type(tx.signatures[0]).default()  # the facilitator's slot
    programs = [keys[ix.program_id_index] for ix in tx.message.instructions]
    assert programs == [
        "ComputeBudget111111111111111111111111111111",
        "ComputeBudget111111111111111111111111111111",
        TOKEN_PROGRAM,
        "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
    ]
    transfer = tx.message.instructions[2]
    data = bytes(transfer.data)
    assert (data[0], int.from_bytes(data[1:9], "little"), data[9]) == (12, 1000, 6)
    dest = keys[bytes(transfer.accounts)[2]]
    assert dest == str(spl.associated_address(PAY_TO, MINT, TOKEN_PROGRAM))
    again = build_exact_payment(
        payer, FEE_PAYER, PAY_TO, MINT, 1000, 6, TOKEN_PROGRAM, Hash.new_unique()
    )
    assert again.signature != prepared.signature


def test_a_fee_payer_that_is_the_wallet_itself_is_refused():
    payer = Keypair()
    with pytest.raises(WaiaasError) as caught:
        build_exact_payment(
            payer, str(payer.pubkey()), PAY_TO, MINT, 1, 6, TOKEN_PROGRAM, Hash.default()
        )
    assert caught.value.code == "PAYMENT_UNSUPPORTED"


@pytest.mark.parametrize(
    "rules,url,allowed",
    [
        ({}, "https://api.example.com/x", False),
        ({"allowedHosts": []}, "https://api.example.com/x", False),
        ({"allowedHosts": ["api.example.com"]}, "https://API.example.com/x", True),
        ({"allowedHosts": ["api.example.com"]}, "https://api.example.com:8443/x", True),
        ({"allowedHosts": ["api.example.com:8443"]}, "https://api.example.com/x", False),
        ({"allowedHosts": ["api.example.com"]}, "https://evil-api.example.com/x", False),
        ({"allowedHosts": ["api.example.com"]}, "https://api.example.com.evil.io/", False),
        ({"allowedHosts": ["*.example.com"]}, "https://a.b.example.com/x", True),
        ({"allowedHosts": ["*.example.com"]}, "https://example.com/x", False),
        ({"allowAnyHost": True}, "http://10.0.0.1/x", True),
    ],
)
def test_allowed_hosts_match_exactly_with_wildcards_only_for_subdomains(rules, url, allowed):
    document = json.dumps({"x402": rules}) if rules else None
    assert payments.host_allowed(policy.load(document), payments.target_of(url)) is allowed


@pytest.mark.parametrize("url", ["https://\u00af[\u00a3", "http://[::1", "http://host:99999/"])
def test_a_malformed_url_is_invalid_request(url):
    with pytest.raises(WaiaasError) as caught:
        payments.target_of(url)
    assert caught.value.code == "INVALID_REQUEST"


def test_a_url_with_credentials_is_refused():
    with pytest.raises(WaiaasError) as caught:
        payments.target_of("https://user:pw@api.example.com/x")
    assert caught.value.code == "INVALID_REQUEST"
    assert "pw" not in caught.value.message


@pytest.mark.anyio
@pytest.mark.parametrize(
    "x402_rules,field",
    [
        ({"allowedHosts": ["bad host"]}, "x402.allowedHosts"),
        ({"allowedHosts": ["a.example:99999"]}, "x402.allowedHosts[0]"),
        ({"maxPerRequest": {"notamint": "1"}}, "x402.maxPerRequest"),
        ({"maxPerRequest": {MINT: "-1"}}, "x402.maxPerRequest"),
        ({"allowAnyHost": "yes"}, "x402.allowAnyHost"),
        ({"unknown": 1}, "x402"),
    ],
)
async def test_bad_x402_rules_are_400_naming_the_field(harness, x402_rules, field):
    wallet = await harness.wallet()
    answer = await harness.http.put(
        f"/v1/wallets/{wallet['id']}/policy", json={"x402": x402_rules}, headers=MASTER
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] in ("INVALID_REQUEST", "INVALID_ADDRESS")
    assert field in answer.json()["message"]


@pytest.mark.anyio
async def test_good_x402_rules_are_stored_and_read_back(harness):
    wallet = await harness.wallet()
    rules = {
        "allowedHosts": ["api.example.com", "*.data.example:8443"],
        "maxPerRequest": {MINT: "500000"},
        "networks": ["solana-localnet"],
        "preferredNetworks": ["solana:localnet", "base"],
    }
    answer = await harness.http.put(
        f"/v1/wallets/{wallet['id']}/policy", json={"x402": rules}, headers=MASTER
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["policy"]["x402"] == rules


def _wallet_row(chain: str, network: str):
    from waiaas_daemon.storage import WalletRow

    return WalletRow(
        seq=1,
        id="w",
        name="w",
        chain=chain,
        network=network,
        address="0x" + "11" * 20 if chain == "evm" else PAY_TO,
        status="ACTIVE",
        created_at=0,
        key_ciphertext=b"",
        key_nonce=b"",
        key_salt=b"",
        kdf="",
    )


def test_an_evm_wallet_pays_on_the_networks_its_policy_lets_it_send_on_in_the_owners_order():
    evm_wallet = _wallet_row("evm", "evm-local")
    own = payments.accepted_networks(policy.load(None), evm_wallet)
    assert own == ["eip155:31338"]
    rules = policy.load(
        json.dumps(
            {
                "allowedNetworks": ["evm-local", "base-sepolia", "local"],
                "x402": {"preferredNetworks": ["base-sepolia"]},
            }
        )
    )
    accepted = payments.accepted_networks(rules, evm_wallet)
    assert accepted == ["eip155:31338", "base-sepolia", "eip155:84532"]  # not Solana's
    sepolia_usdc = {**BASE_USDC, "network": "eip155:84532"}
    local_usdc = {**BASE_USDC, "network": "eip155:31338"}
    challenge = _offers(_entry(), local_usdc, sepolia_usdc, BASE_USDC)
    ordered = x402.candidates(challenge, accepted, payments.preferred_networks(rules))
    assert [r.network for r in ordered] == ["eip155:84532", "eip155:31338"]
    # A Solana wallet pays none of the EVM offers.
    solana = payments.accepted_networks(rules, _wallet_row("solana", "local"))
    assert [r.network for r in x402.candidates(challenge, solana)] == ["solana:localnet"]


def test_an_evm_offer_without_its_tokens_domain_is_passed_over():
    bare = {**BASE_USDC, "extra": {}}
    with pytest.raises(WaiaasError) as caught:
        x402.candidates(_offers(bare), ["eip155:8453"])
    assert "extra.name/version" in caught.value.message
    assert x402.network_of("base") == "base" and x402.network_of("eip155:8453") == "base"
