"""The daemon's resource fetcher is no proxy into the owner's machine (issue #25, item 3).

With ``allowAnyHost``, or an allowed host without a port, an agent's ``pay_for_resource``
must not reach loopback, unspecified, link-local, private or cloud-metadata addresses,
however the URL spells them, whatever a name resolves to, wherever a redirect points.
Only the exact ``host:port`` the owner listed may. In-process daemon with real loopback
servers (the tests' shop and a "secret" service); the daemon's own console and local
JSON-RPC through a real ``waiaas-daemon serve``."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.daemon.conftest import MASTER, Harness
from tests.daemon.test_x402_approved import World, _running
from tests.support.daemon import Daemon

pytestmark = [pytest.mark.anyio]


class Secret:
    """Another service on the owner's loopback: nothing of it may reach an agent."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = 0

    async def answer(self, request: Request) -> Response:
        self.hits += 1
        return Response("the owner's private data", media_type="text/plain")


@asynccontextmanager
async def running_secret() -> AsyncIterator[Secret]:
    secret = Secret()
    app = Starlette(routes=[Route("/{path:path}", secret.answer)])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    secret.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    async with anyio.create_task_group() as group:
        group.start_soon(server.serve, [sock])
        try:
            yield secret
        finally:
            server.should_exit = True
    sock.close()


class Setup:
    def __init__(self, world: World, secret: Secret) -> None:
        self.world = world
        self.secret = secret
        self.names: dict[str, list[str]] = {}

    @property
    def shop_port(self) -> int:
        return int(self.world.shop.url.rsplit(":", 1)[1])

    async def policy(self, x402: dict[str, Any]) -> None:
        path = f"/v1/wallets/{self.world.wallet['id']}/policy"
        answer = await self.world.harness.http.put(path, json={"x402": x402}, headers=MASTER)
        assert answer.status_code == 200, answer.text

    async def pay(self, url: str, **body: Any) -> httpx.Response:
        answer = await self.world.harness.http.post(
            "/v1/x402/pay", json={"url": url, "timeoutSeconds": 5, **body}, headers=self.world.agent
        )
        assert answer.status_code != 500, answer.text
        return answer

    def reached(self) -> int:
        shop = self.world.shop
        return shop.unpaid_requests + shop.paid_requests + self.secret.hits

    async def refused(self, url: str) -> dict[str, Any]:
        answer = await self.pay(url)
        assert answer.status_code == 403, answer.text
        body = answer.json()
        assert body["code"] == "POLICY_DENIED", body
        assert "allowAnyHost never covers" in body["message"]
        assert self.reached() == 0
        return dict(body)


@pytest.fixture
async def setup(harness: Harness) -> AsyncIterator[Setup]:
    async with _running(harness) as world, running_secret() as secret:
        made = Setup(world, secret)

        async def resolve(host: str, port: int) -> list[str]:
            if host in made.names:
                return made.names[host]
            from waiaas_daemon.domain.outbound import system_resolve

            return await system_resolve(host, port)

        harness.state.resolve = resolve
        yield made


def _forms(port: int) -> list[str]:
    """The owner's machine, spelled every way a URL can."""
    return [
        f"http://127.0.0.1:{port}/report",
        f"http://0.0.0.0:{port}/report",
        f"http://[::1]:{port}/report",
        f"http://127.1:{port}/report",
        f"http://2130706433:{port}/report",
        f"http://0x7f000001:{port}/report",
        f"http://localhost:{port}/report",
        f"http://shop.example:{port}/report",  # a name that resolves to loopback
        "http://169.254.169.254/latest/meta-data/",
        f"http://[::ffff:127.0.0.1]:{port}/report",
    ]


@pytest.mark.parametrize("form", range(10))
async def test_allow_any_host_never_reaches_the_owners_machine(setup: Setup, form: int):
    setup.names["shop.example"] = ["127.0.0.1"]
    await setup.policy({"allowAnyHost": True})
    url = _forms(setup.shop_port)[form]
    await setup.refused(url)
    audit = await setup.world.harness.http.get(
        "/v1/audit", params={"action": "send.denied"}, headers=MASTER
    )
    assert audit.json()["items"][0]["details"]["kind"] == "payment"


async def test_another_loopback_service_is_not_read_through_allow_any_host(setup: Setup):
    await setup.policy({"allowAnyHost": True})
    body = await setup.refused(f"http://127.0.0.1:{setup.secret.port}/data")
    assert "private data" not in json.dumps(body)


@pytest.mark.parametrize("entry", ["127.0.0.1", "localhost", "*.example"])
async def test_an_allowed_host_without_its_port_does_not_reach_the_owners_machine(
    setup: Setup, entry: str
):
    setup.names["shop.example"] = ["127.0.0.1"]
    await setup.policy({"allowedHosts": [entry]})
    host = "shop.example" if entry.startswith("*") else entry
    await setup.refused(f"http://{host}:{setup.secret.port}/data")


async def test_a_listed_name_reaches_loopback_on_its_listed_port_only(setup: Setup):
    """The exemption is the exact host:port: the same name on another port (the owner's
    secret service) is refused, even with the bare name listed too."""
    port = setup.shop_port
    setup.names["shop.example"] = ["127.0.0.1"]
    await setup.policy({"allowedHosts": [f"shop.example:{port}", "shop.example"]})
    answer = await setup.pay(f"http://shop.example:{port}/free")
    assert answer.status_code == 200 and answer.json()["outcome"] == "FREE", answer.text
    refused = await setup.pay(f"http://shop.example:{setup.secret.port}/data")
    assert refused.status_code == 403, refused.text
    assert setup.secret.hits == 0


@pytest.mark.parametrize("form", range(10))
async def test_a_redirect_never_leads_to_the_owners_machine(setup: Setup, form: int):
    setup.names["shop.example"] = ["127.0.0.1"]
    port = setup.shop_port
    await setup.policy({"allowedHosts": [f"127.0.0.1:{port}"], "allowAnyHost": True})
    target = _forms(setup.secret.port)[form].replace("/report", "/data")
    answer = await setup.pay(f"http://127.0.0.1:{port}/hop?to={target}")
    assert answer.status_code in (403, 502), answer.text
    assert answer.json()["code"] in ("POLICY_DENIED", "PAYMENT_FAILED")
    assert setup.secret.hits == 0


async def test_the_exact_host_and_port_the_owner_listed_is_paid_on_loopback(setup: Setup):
    port = setup.shop_port
    await setup.policy({"allowedHosts": [f"localhost:{port}"]})
    answer = await setup.pay(f"http://localhost:{port}/report")
    assert answer.status_code == 201, answer.text
    assert answer.json()["payment"]["status"] == "CONFIRMED"


def _agent_call(daemon: Daemon, token: str, body: dict[str, Any]) -> httpx.Response:
    with daemon.client() as http:
        return http.post("/v1/x402/pay", json=body, headers={"Authorization": f"Bearer {token}"})


def test_an_agent_cannot_use_the_daemon_to_reach_its_console_or_local_rpc(daemon: Daemon):
    wallet = daemon.create_wallet("agent")
    token = daemon.create_session(wallet["id"])["token"]
    port = daemon.base_url.rsplit(":", 1)[1]
    airdrop = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "requestAirdrop",
        "params": [wallet["address"], 1_000_000_000],
    }
    for x402 in ({"allowAnyHost": True}, {"allowedHosts": ["127.0.0.1", "localhost"]}):
        put = daemon.api("PUT", f"/v1/wallets/{wallet['id']}/policy", json={"x402": x402})
        assert put.status_code == 200, put.text
        for body in (
            {"url": f"{daemon.base_url}/console"},
            {"url": f"http://localhost:{port}/console/login"},
            {
                "url": f"{daemon.base_url}/v1/local-rpc",
                "method": "POST",
                "body": json.dumps(airdrop),
            },
        ):
            answer = _agent_call(daemon, token, body)
            assert answer.status_code == 403, answer.text
            assert answer.json()["code"] == "POLICY_DENIED"
    balance = daemon.api("GET", f"/v1/wallets/{wallet['id']}").json()
    assert balance["status"] == "ACTIVE"
    with daemon.client() as http:
        sol = http.get("/v1/wallet/balance", headers={"Authorization": f"Bearer {token}"})
    assert sol.json()["balance"] == "0"
