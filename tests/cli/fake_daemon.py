"""An in-process fake of the daemon's owner routes (SPEC 12-14), for httpx.MockTransport.

Used where the real daemon does not serve a route yet, and where a protocol edge
(a 409, a 429 with Retry-After) is the point. Each request is recorded as a
``Call`` so a test asserts exactly what the CLI sent. The CLI code does not know
it talks to a fake: the same commands run against a real daemon in subprocess tests.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "fake-master-password"
ADDRESS = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    master: bool
    bearer: str | None


def error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "retryable": False, "requestId": "r"}
    return httpx.Response(status, json=body, headers=headers)


@dataclass
class FakeDaemon:
    wallets: list[dict[str, Any]] = field(default_factory=list)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] = field(
        default_factory=lambda: {"ok": True, "entries": 0, "firstBadSeq": None}
    )
    tokens: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"network": "local", "mint": ADDRESS, "symbol": "USDC", "decimals": 6}
        ]
    )
    # what GET /v1/wallet/policy answers for a session; None: the route does not exist
    agent_view: dict[str, Any] | None = None
    # (method, path regex) -> a canned answer that wins over the fake's own logic
    overrides: dict[tuple[str, str], httpx.Response] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def add_wallet(self, name: str = "main", network: str = "local") -> dict[str, Any]:
        wallet = {
            "id": str(uuid.uuid4()),
            "name": name,
            "chain": "solana",
            "network": network,
            "address": ADDRESS,
            "status": "ACTIVE",
            "createdAt": 1_800_000_000,
        }
        self.wallets.append(wallet)
        return wallet

    def sent(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path == path]

    # the transport -------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        auth = request.headers.get("Authorization", "")
        call = Call(
            request.method,
            request.url.path,
            dict(request.url.params),
            body,
            "X-Master-Password" in request.headers,
            auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None,
        )
        self.calls.append(call)
        for (method, pattern), response in self.overrides.items():
            if method == call.method and re.fullmatch(pattern, call.path):
                return response
        if call.path == "/health":
            return httpx.Response(200, json={"status": "ok", "version": "0.1.0"})
        if call.bearer is not None:
            return self._agent(call)
        if request.headers.get("X-Master-Password") != PASSWORD:
            return error(401, "INVALID_MASTER_PASSWORD", "Wrong master password.")
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, call.path)
            if method == call.method and match:
                return handler(call, *match.groups())
        return error(404, "NOT_FOUND", "No such route.")

    def _routes(self) -> list[tuple[str, str, Callable[..., httpx.Response]]]:
        wallet = r"/v1/wallets/([0-9a-f-]{36})"
        return [
            ("GET", r"/v1/wallets", lambda c: self._ok({"items": self.wallets})),
            ("GET", wallet + "/policy", self._get_policy),
            ("PUT", wallet + "/policy", self._put_policy),
            ("DELETE", wallet + "/policy", self._delete_policy),
            ("POST", wallet + "/suspend", lambda c, w: self._status(w, "SUSPENDED")),
            ("POST", wallet + "/resume", lambda c, w: self._status(w, "ACTIVE")),
            ("POST", wallet + "/airdrop", self._airdrop),
            ("GET", r"/v1/tokens", self._tokens),
            ("GET", r"/v1/pending", lambda c: self._ok({"items": self.pending})),
            ("POST", r"/v1/pending/([0-9a-f-]{36})/(approve|reject)", self._decide),
            # The real daemon's KillSwitch answer: {active, reason, since}.
            ("POST", r"/v1/admin/kill-switch", self._kill_switch_on),
            ("DELETE", r"/v1/admin/kill-switch", self._kill_switch_off),
            ("GET", r"/v1/audit", self._audit),
            ("GET", r"/v1/audit/verify", lambda c: self._ok(self.verify)),
            ("POST", r"/v1/admin/notifications/test", lambda c: self._ok({"id": "evt-1"})),
            ("POST", r"/v1/sessions", self._create_session),
        ]

    @staticmethod
    def _ok(body: Any, status: int = 200) -> httpx.Response:
        return httpx.Response(status, json=body)

    def _kill_switch_on(self, call: Call) -> httpx.Response:
        reason = (call.body or {}).get("reason")
        return self._ok({"active": True, "reason": reason, "since": 1_800_000_000})

    def _kill_switch_off(self, call: Call) -> httpx.Response:
        return self._ok({"active": False, "reason": None, "since": 1_800_000_000})

    def _wallet(self, wallet_id: str) -> dict[str, Any] | None:
        return next((w for w in self.wallets if w["id"] == wallet_id), None)

    def _policy_answer(self, wallet_id: str) -> dict[str, Any]:
        return {
            "walletId": wallet_id,
            "updatedAt": None,
            **self.policies.get(wallet_id, {"version": 0, "policy": {}}),
        }

    def _get_policy(self, call: Call, wallet_id: str) -> httpx.Response:
        return self._ok(self._policy_answer(wallet_id))

    def _put_policy(self, call: Call, wallet_id: str) -> httpx.Response:
        version = self._policy_answer(wallet_id)["version"] + 1
        self.policies[wallet_id] = {"version": version, "policy": call.body}
        return self._ok(self._policy_answer(wallet_id))

    def _delete_policy(self, call: Call, wallet_id: str) -> httpx.Response:
        version = self._policy_answer(wallet_id)["version"] + 1
        self.policies[wallet_id] = {"version": version, "policy": {}}
        return self._ok(self._policy_answer(wallet_id))

    def _status(self, wallet_id: str, status: str) -> httpx.Response:
        wallet = self._wallet(wallet_id)
        if wallet is None:
            return error(404, "WALLET_NOT_FOUND", "No such wallet.")
        wallet["status"] = status
        return self._ok(wallet)

    def _airdrop(self, call: Call, wallet_id: str) -> httpx.Response:
        record = {"id": str(uuid.uuid4()), "type": "AIRDROP", "status": "CONFIRMED"}
        return self._ok(record | {"walletId": wallet_id, "amount": call.body["amount"]}, 201)

    def _tokens(self, call: Call) -> httpx.Response:
        network = call.params.get("network")
        return self._ok({"items": [t for t in self.tokens if t["network"] == network]})

    def _decide(self, call: Call, transaction_id: str, verb: str) -> httpx.Response:
        record = next((t for t in self.pending if t["id"] == transaction_id), None)
        if record is None:
            return error(409, "TRANSACTION_NOT_PENDING", "The transaction is not waiting.")
        self.pending.remove(record)
        status = "SUBMITTED" if verb == "approve" else "REJECTED"
        if verb == "approve" and record.get("type") == "PAYMENT":
            status = "APPROVED"  # as the daemon: the agent's next call pays it
        return self._ok(
            record | {"status": status, "signature": "sig" if status == "SUBMITTED" else None}
        )

    def _audit(self, call: Call) -> httpx.Response:
        items = [
            e
            for e in self.audit
            if call.params.get("walletId") in (None, e.get("walletId"))
            and call.params.get("action") in (None, e.get("action"))
        ]
        return self._ok({"items": items[: int(call.params.get("limit", "20"))], "cursor": None})

    def _create_session(self, call: Call) -> httpx.Response:
        session_id = str(uuid.uuid4())
        token = f"wai_sess_fake.{session_id}"
        answer = {"id": session_id, "token": token, "expiresAt": 1_900_000_000}
        return self._ok(answer | {"walletId": call.body["walletId"]}, 201)

    def _agent(self, call: Call) -> httpx.Response:
        if call.method == "GET" and call.path == "/v1/wallet/policy" and self.agent_view:
            return self._ok(self.agent_view)
        return error(404, "NOT_FOUND", "No such route.")
