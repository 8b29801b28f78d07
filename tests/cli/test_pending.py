import json
import uuid

import pytest

from tests.cli.checks import fake_error, fake_ok
from tests.cli.fake_daemon import ADDRESS
from waiaas_cli.output import iso_time


def _waiting(fake, status="PENDING_APPROVAL", **extra):
    wallet = fake.wallets[0] if fake.wallets else fake.add_wallet("main")
    record = {
        "id": str(uuid.uuid4()),
        "walletId": wallet["id"],
        "status": status,
        "tier": "APPROVAL" if status == "PENDING_APPROVAL" else "DELAY",
        "to": ADDRESS,
        "amount": "2500000000",
        "token": None,
        "approvalExpiresAt": 1_800_003_600,
        "executeAt": 1_800_000_900,
    } | extra
    fake.pending.append(record)
    return record


def test_pending_lists_waiting_sends_with_amounts_in_their_units_and_when(run_fake, fake):
    approval = _waiting(fake)
    queued = _waiting(
        fake, "QUEUED", amount="12500000", token={"mint": ADDRESS, "symbol": "USDC", "decimals": 6}
    )
    out = fake_ok(run_fake("pending"))
    [line_a] = [line for line in out.splitlines() if line.startswith(approval["id"])]
    assert "PENDING_APPROVAL" in line_a and "2.5 SOL" in line_a
    assert f"expires {iso_time(approval['approvalExpiresAt'])}" in line_a
    [line_q] = [line for line in out.splitlines() if line.startswith(queued["id"])]
    assert "12.5 USDC" in line_q and f"runs {iso_time(queued['executeAt'])}" in line_q
    assert "waiaas approve ID" in out


def test_pending_says_which_waiting_item_is_a_payment_and_for_which_site(run_fake, fake):
    send = _waiting(fake, type="TRANSFER")
    payment = _waiting(
        fake,
        type="PAYMENT",
        origin="https://api.example.com",
        amount="250000",
        token={"mint": ADDRESS, "symbol": "USDC", "decimals": 6},
    )
    out = fake_ok(run_fake("pending"))
    assert "WHAT" in out.splitlines()[0]
    [line_p] = [line for line in out.splitlines() if line.startswith(payment["id"])]
    assert "payment for https://api.example.com" in line_p and "0.25 USDC" in line_p
    [line_s] = [line for line in out.splitlines() if line.startswith(send["id"])]
    assert " send " in line_s and "payment" not in line_s


def test_approving_a_payment_says_what_it_pays_for_and_who_pays_it(run_fake, fake):
    record = _waiting(fake, type="PAYMENT", origin="https://api.example.com")
    out = fake_ok(run_fake("approve", record["id"]))
    assert "(payment for https://api.example.com)" in out
    assert "Status: APPROVED" in out and "next call for that URL pays it" in out


def test_pending_json_is_the_daemons_list(run_fake, fake):
    record = _waiting(fake)
    assert json.loads(fake_ok(run_fake("pending", "--json"))) == [record]


def test_nothing_pending_says_so(run_fake):
    assert "Nothing is waiting." in fake_ok(run_fake("pending"))


def test_approve_posts_the_decision_and_reports_the_send(run_fake, fake):
    record = _waiting(fake)
    out = fake_ok(run_fake("approve", record["id"]))
    [call] = fake.sent("POST", f"/v1/pending/{record['id']}/approve")
    assert call.master
    assert f"Approved {record['id']}: 2.5 SOL to {ADDRESS}" in out and "Status: SUBMITTED" in out


def test_reject_sends_the_reason(run_fake, fake):
    record = _waiting(fake)
    out = fake_ok(run_fake("reject", record["id"], "--reason", "not today"))
    [call] = fake.sent("POST", f"/v1/pending/{record['id']}/reject")
    assert call.body == {"reason": "not today"}
    assert "Status: REJECTED" in out


def test_reject_without_reason_sends_an_empty_body(run_fake, fake):
    record = _waiting(fake)
    fake_ok(run_fake("reject", record["id"]))
    [call] = fake.sent("POST", f"/v1/pending/{record['id']}/reject")
    assert call.body == {}


def test_a_decision_on_a_settled_send_is_one_line_with_the_code(run_fake, fake):
    result = run_fake("approve", str(uuid.uuid4()))
    fake_error(result, "TRANSACTION_NOT_PENDING")


@pytest.mark.parametrize("command", ["approve", "reject"])
def test_an_id_that_is_not_a_uuid_is_refused_before_any_request(run_fake, fake, command):
    result = run_fake(command, "../../v1/admin/kill-switch")
    assert result.exit_code == 2 and "is not a transaction id" in result.stderr
    assert fake.calls == []
