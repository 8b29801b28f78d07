"""GET /openapi.json: a valid OpenAPI document naming every route, and a schemathesis run
of generated requests against a real daemon that must answer each as the document says."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from starlette.routing import Route

from tests.support.daemon import Daemon, running_daemon
from waiaas_core.config import Settings
from waiaas_core.networks import NETWORK_NAMES
from waiaas_daemon.serving.app import api_routes, create_app
from waiaas_daemon.serving.openapi import openapi_document as document_of

METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
# Per operation and generation mode. CI's share of the suite's time keeps it small;
# a deeper run: WAIAAS_FUZZ_EXAMPLES=200 pytest tests/daemon/test_openapi.py
EXAMPLES_PER_OPERATION = int(os.environ.get("WAIAAS_FUZZ_EXAMPLES", "12"))
FUNDING = 5_000_000_000
# A real address that holds nothing yet: sends to it create the account.
RECIPIENT = "4Nd1mBQtrMJVYVfKf2PJy9NZUZdTAsp7D4xWLs4gDB4T"

DAEMON_CONFIG = {
    "security": {
        "min_session_ttl": 1,
        "session_ttl": 3600,
        # Negative cases send wrong passwords (a documented 401); a lockout would
        # turn the rest of the run into 429s, so keep one from ever happening.
        "master_lockout_attempts": 1000,
    }
}


def openapi_document(settings: Settings) -> dict[str, Any]:
    return document_of(api_routes(), settings)


def app_operations(app: Any) -> set[tuple[str, str]]:
    operations = set()
    for route in app.routes:
        if route.path == "/console":
            continue  # the owner console's HTML pages (SPEC 15) are not the REST API
        if route.path == "/mcp":
            continue  # MCP over Streamable HTTP (docs/mcp.md), not a REST operation
        if route.path.startswith(("/oauth/", "/.well-known/oauth-")):
            continue  # OAuth 2.1 for /mcp speaks OAuth (docs/remote-access.md), not REST
        assert isinstance(route, Route), f"{route!r} is not a plain Route; describe it"
        # HEAD comes with every GET in starlette; it is not an operation of ours.
        for method in (route.methods or set()) - {"HEAD"}:
            operations.add((method, route.path))
    return operations


def document_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


def test_document_is_valid_openapi_3_1():
    document = openapi_document(Settings())
    loaded = schemathesis.openapi.from_dict(copy.deepcopy(document))
    loaded.validate()
    assert document["openapi"] == "3.1.0"
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.anyio
async def test_document_describes_exactly_the_routes_of_the_app(harness):
    served = app_operations(create_app(harness.state))
    described = document_operations(openapi_document(harness.state.settings))
    assert served - described == set(), "routes without documentation"
    assert described - served == set(), "documented routes the daemon does not serve"


def test_expires_in_bounds_follow_the_settings():
    settings = Settings(min_session_ttl=60, max_session_ttl=7200, session_ttl=600)
    schemas = openapi_document(settings)["components"]["schemas"]
    for name in ("SessionCreate", "McpTokenCreate"):
        prop = schemas[name]["properties"]["expiresIn"]
        expires_in = next(o for o in prop.get("anyOf", [prop]) if o.get("type") == "integer")
        assert (expires_in["minimum"], expires_in["maximum"]) == (60, 7200)


def test_request_bodies_refuse_unknown_fields():
    document = openapi_document(Settings())
    schemas = document["components"]["schemas"]
    for item in document["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody")
            if body is not None:
                name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
                assert schemas[name]["additionalProperties"] is False, name


def test_every_operation_documents_its_security_and_errors():
    document = openapi_document(Settings())
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "security" in operation, (method, path)
            assert "400" in operation["responses"], (method, path)  # INVALID_HOST at least
            if operation["security"]:
                assert "401" in operation["responses"], (method, path)


def test_renewal_documents_the_code_of_each_of_its_checks():
    responses = openapi_document(Settings())["paths"]["/v1/sessions/{id}/renew"]["put"]["responses"]

    def codes(status: str) -> set[str]:
        schema = responses[status]["content"]["application/json"]["schema"]
        return set(schema["allOf"][1]["properties"]["code"]["enum"])

    assert codes("400") == {"INVALID_HOST", "RENEWAL_TOO_EARLY"}
    assert codes("401") == {"INVALID_TOKEN", "SESSION_EXPIRED", "SESSION_REVOKED"}
    assert codes("403") == {"RENEWAL_LIMIT_EXCEEDED", "SESSION_LIFETIME_EXPIRED"}
    assert codes("404") == {"SESSION_NOT_FOUND"}
    assert codes("409") == {"RENEWAL_CONFLICT"}


@pytest.mark.anyio
async def test_openapi_json_is_served_without_auth(harness):
    response = await harness.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi_document(harness.state.settings)


# The schemathesis run: one real daemon, every operation, bounded examples.


def seeded(daemon: Daemon) -> dict[str, Any]:
    """Records for the run to find: an agent wallet with money and a session, and spares."""
    agent = daemon.create_wallet("agent")
    spare = daemon.create_wallet("spare")
    funded = daemon.api("POST", f"/v1/wallets/{agent['id']}/airdrop", json={"amount": str(FUNDING)})
    assert funded.status_code == 201, funded.text
    session = daemon.create_session(agent["id"])
    spare_session = daemon.create_session(spare["id"])
    return {
        "agent": agent,
        "spare": spare,
        "token": session["token"],
        "session": session,
        "spare_session": spare_session,
        "transaction": funded.json(),
    }


def with_examples(document: dict[str, Any], seed: dict[str, Any]) -> dict[str, Any]:
    """Real ids as examples, so the examples phase reaches past 404 on every id route.

    The spare wallet and session are the ones deleted; the agent's session, whose
    token authenticates the run, is only renewed (too early, by design).
    """
    document = copy.deepcopy(document)
    paths = document["paths"]
    agent, spare = seed["agent"]["id"], seed["spare"]["id"]

    def path_example(path: str, method: str, value: str) -> None:
        paths[path][method]["parameters"][0]["example"] = value

    def body_example(path: str, method: str, value: dict[str, Any]) -> None:
        paths[path][method]["requestBody"]["content"]["application/json"]["example"] = value

    path_example("/v1/wallets/{id}", "get", agent)
    path_example("/v1/wallets/{id}", "delete", spare)
    path_example("/v1/wallets/{id}/airdrop", "post", agent)
    path_example("/v1/sessions/{id}", "delete", seed["spare_session"]["id"])
    path_example("/v1/sessions/{id}/renew", "put", seed["session"]["id"])
    path_example("/v1/transactions/{id}", "get", seed["transaction"]["id"])
    body_example("/v1/wallets/{id}/airdrop", "post", {"amount": "1000000"})
    body_example("/v1/sessions", "post", {"walletId": agent, "expiresIn": 600, "label": "x"})
    body_example("/v1/mcp/tokens", "post", {"walletId": agent})
    body_example(
        "/v1/transactions/send", "post", {"to": RECIPIENT, "amount": "2000000", "memo": "hi"}
    )
    paths["/v1/sessions"]["get"]["parameters"][0]["example"] = agent
    return only_local_networks(document)


def only_local_networks(document: dict[str, Any]) -> dict[str, Any]:
    """Generated requests name the Solana local network only: every other network is a
    JSON-RPC node this test does not run (its 502 CHAIN_ERROR is documented, not a fault),
    or evm-local, whose first use loads the EVM engine (seconds: tests/daemon/test_evm_local.py
    covers it)."""
    names = set(NETWORK_NAMES)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if isinstance(node.get("enum"), list) and set(node["enum"]) == names:
                return {**node, "enum": ["local"]}
            if isinstance(node.get("enum"), list) and set(node["enum"]) == {"solana", "evm"}:
                return {**node, "enum": ["solana"]}  # an EVM wallet's network is evm-local
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(document)  # type: ignore[no-any-return]


@dataclass
class Run:
    schema: Any
    headers: dict[str, str]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Iterator[Run]:
    """One daemon for the whole run; generated requests carry both kinds of auth."""
    data_dir = tmp_path_factory.mktemp("openapi") / "data"
    with running_daemon(data_dir, config=DAEMON_CONFIG) as daemon:
        seed = seeded(daemon)
        document = httpx.get(f"{daemon.base_url}/openapi.json", timeout=10).json()
        config = schemathesis.Config.from_dict(
            {
                "base-url": daemon.base_url,
                "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            }
        )
        schema = schemathesis.openapi.from_dict(with_examples(document, seed), config=config)
        headers = {**daemon.master, "Authorization": f"Bearer {seed['token']}"}
        yield Run(schema, headers)


CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
RUN_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def run_order(operation: tuple[str, str]) -> tuple[bool, str, str]:
    # Deletes last: generated ids may name the agent's own wallet or session.
    method, path = operation
    return method == "DELETE", path, method


OPERATIONS = sorted(document_operations(openapi_document(Settings())), key=run_order)


# schemathesis' own pytest plugin (from_fixture) does not run on pytest 9 yet, so each
# operation is a test of ours that drives schemathesis' strategies with hypothesis.
@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_generated_requests_get_documented_answers(run, method, path):
    operation = run.schema[path][method]
    strategies = [
        *operation.get_strategies_from_examples(),
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
    ]
    described = operation.definition.raw
    if "parameters" in described or "requestBody" in described:
        # An operation without inputs has nothing to break.
        strategies.append(operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))
    statuses: list[int] = []
    for strategy in strategies:

        @RUN_SETTINGS
        @given(strategy)
        def call(case):
            statuses.append(case.call_and_validate(headers=run.headers).status_code)

        call()
    # The credentials we send get past auth: the route itself was exercised.
    assert set(statuses) - {401, 429}, statuses
