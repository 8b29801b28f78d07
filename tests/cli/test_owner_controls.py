"""kill-switch, audit, notify and the Retry-After of a 429, against the in-process fake."""

import json

from tests.cli.checks import fake_error, fake_ok
from tests.cli.fake_daemon import error


def test_kill_switch_on_posts_the_reason(run_fake, fake):
    out = fake_ok(run_fake("kill-switch", "on", "--reason", "leaked token"))
    [call] = fake.sent("POST", "/v1/admin/kill-switch")
    assert call.master and call.body == {"reason": "leaked token"}
    assert "Kill switch ON" in out


def test_kill_switch_off_deletes_it(run_fake, fake):
    assert "Kill switch OFF" in fake_ok(run_fake("kill-switch", "off"))
    assert len(fake.sent("DELETE", "/v1/admin/kill-switch")) == 1


def _entries(wallet_id):
    return [
        {
            "seq": 2,
            "at": 1_800_000_100,
            "actor": "owner",
            "action": "policy.set",
            "walletId": wallet_id,
            "details": {"version": 1},
        },
        {
            "seq": 1,
            "at": 1_800_000_000,
            "actor": "daemon",
            "action": "kill_switch.on",
            "walletId": None,
            "details": {},
        },
    ]


def test_audit_passes_the_filters_with_the_wallet_name_resolved_to_its_id(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.audit = _entries(wallet["id"])
    out = fake_ok(run_fake("audit", "--wallet", "main", "--action", "policy.set", "--limit", "5"))
    [call] = fake.sent("GET", "/v1/audit")
    assert call.params == {"walletId": wallet["id"], "action": "policy.set", "limit": "5"}
    assert "policy.set" in out and '{"version":1}' in out and "kill_switch.on" not in out


def test_audit_json_prints_the_entries(run_fake, fake):
    wallet = fake.add_wallet("main")
    fake.audit = _entries(wallet["id"])
    assert json.loads(fake_ok(run_fake("audit", "--json"))) == fake.audit
    assert fake.sent("GET", "/v1/audit")[0].params == {"limit": "20"}


def test_audit_limit_outside_1_to_100_is_a_usage_error(run_fake, fake):
    assert run_fake("audit", "--limit", "101").exit_code == 2
    assert fake.calls == []


def test_audit_verify_of_an_intact_chain_exits_0(run_fake, fake):
    fake.verify = {"ok": True, "entries": 42, "firstBadSeq": None}
    assert "Audit log intact: 42 entries" in fake_ok(run_fake("audit", "verify"))


def test_audit_verify_of_a_broken_chain_exits_1_naming_the_first_bad_entry(run_fake, fake):
    fake.verify = {"ok": False, "entries": 42, "firstBadSeq": 17}
    fake_error(run_fake("audit", "verify"), "breaks at entry 17", "firstBadSeq")


def test_notify_test_asks_the_daemon_to_send_a_test_event(run_fake, fake):
    assert "Test notification queued" in fake_ok(run_fake("notify", "test"))
    assert len(fake.sent("POST", "/v1/admin/notifications/test")) == 1


def test_a_429_says_how_many_seconds_to_wait_even_when_the_daemon_sends_a_hint(run_fake, fake):
    limited = error(429, "RATE_LIMITED", "Too many requests.", **{"Retry-After": "42"})
    fake.overrides[("GET", "/v1/pending")] = limited
    fake_error(run_fake("pending"), "RATE_LIMITED", "Try again in 42 s.")
    body = {
        "code": "MASTER_PASSWORD_LOCKED",
        "message": "Locked.",
        "retryable": False,
        "hint": "Wait for the lockout to pass.",
    }
    import httpx

    fake.overrides[("GET", "/v1/pending")] = httpx.Response(
        429, json=body, headers={"Retry-After": "300"}
    )
    fake_error(run_fake("pending"), "Wait for the lockout to pass. Try again in 300 s.")


def test_a_wrong_master_password_says_so(run_fake, fake):
    fake_error(
        run_fake("kill-switch", "on", env={"WAIAAS_MASTER_PASSWORD": "nope"}),
        "master password is wrong",
    )
