"""The resource fetcher's guard (``domain/outbound.py``): which addresses an agent's request
may reach, and that the socket opens to the address that was checked.

The guard's own edges, with a recording network backend below it in place of the real
sockets (the address a name resolves to is what is under test, and no test machine has
a public address to connect to); the daemon's fetches through it are tested with real
loopback servers in ``test_x402_ssrf.py``."""

from __future__ import annotations

from typing import Any

import httpcore
import pytest

from waiaas_daemon.domain import outbound

pytestmark = [pytest.mark.anyio]

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:4700:4700::1111"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("169.254.169.254", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.100.100.200", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::7f00:1", "loopback"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("not-an-address", "not an IP"),
    ],
)
def test_the_owners_machine_and_private_networks_are_forbidden(address: str, why: str):
    reason = outbound.forbidden(address)
    assert reason is not None and why in reason


@pytest.mark.parametrize("address", [PUBLIC_V4, PUBLIC_V6, "8.8.8.8"])
def test_public_addresses_are_not_forbidden(address: str):
    assert outbound.forbidden(address) is None


class Recording(httpcore.AsyncNetworkBackend):
    """Records where the guard asked to connect; connects nowhere."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.connected: list[tuple[str, int]] = []
        self.refuse = refuse or set()

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.connected.append((host, port))
        if host in self.refuse:
            raise httpcore.ConnectError("refused")
        return object()

    async def sleep(self, seconds: float) -> None:
        return None


class Resolver:
    """Answers from a script, one answer per call (the last one repeats)."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_the_socket_opens_to_the_checked_address_not_to_the_name_again():
    """DNS rebinding: the second answer for the same name is loopback. Each connection
    resolves once and connects to the literal address it checked; the second is refused."""
    resolve = Resolver([PUBLIC_V4], ["127.0.0.1"])
    inner = Recording()
    guard = outbound.GuardedBackend(resolve, (), inner)
    await guard.connect_tcp("rebind.example", 80)
    assert inner.connected == [(PUBLIC_V4, 80)]
    with pytest.raises(outbound.Refused) as refused:
        await guard.connect_tcp("rebind.example", 80)
    assert "rebind.example resolves to 127.0.0.1" in refused.value.reason
    assert "loopback" in refused.value.reason
    assert inner.connected == [(PUBLIC_V4, 80)]
    assert resolve.calls == 2


async def test_a_name_with_public_and_private_addresses_reaches_only_the_public_one():
    inner = Recording(refuse={PUBLIC_V6})
    guard = outbound.GuardedBackend(
        Resolver(["127.0.0.1", PUBLIC_V6, "10.0.0.2", PUBLIC_V4]), (), inner
    )
    await guard.connect_tcp("mixed.example", 443)
    assert inner.connected == [(PUBLIC_V6, 443), (PUBLIC_V4, 443)]


async def test_only_the_exact_host_and_port_the_owner_listed_may_reach_the_machine():
    inner = Recording()
    guard = outbound.GuardedBackend(Resolver(["127.0.0.1"]), ["LocalHost:8402"], inner)
    await guard.connect_tcp("localhost", 8402)
    assert inner.connected == [("127.0.0.1", 8402)]
    for host, port in (("localhost", 8403), ("127.0.0.1", 8402)):
        with pytest.raises(outbound.Refused):
            await guard.connect_tcp(host, port)
    assert inner.connected == [("127.0.0.1", 8402)]


async def test_a_name_that_does_not_resolve_is_a_connection_error():
    guard = outbound.GuardedBackend(Resolver([]), (), Recording())
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_tcp("nowhere.example", 80)


async def test_the_system_resolver_reads_numeric_forms_as_the_address_they_are():
    for form in ("127.1", "2130706433", "0x7f000001", "localhost"):
        addresses = await outbound.system_resolve(form, 80)
        assert addresses and all(outbound.forbidden(a) for a in addresses), form


async def test_unix_sockets_are_never_used():
    guard = outbound.GuardedBackend(Resolver(["127.0.0.1"]), (), Recording())
    with pytest.raises(httpcore.ConnectError):
        await guard.connect_unix_socket("/run/docker.sock")
