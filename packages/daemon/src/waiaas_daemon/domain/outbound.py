"""The HTTP client the daemon fetches agents' resources with: never into the owner's machine.

An agent names the URL; the daemon makes the request from the owner's machine.
So every connection is checked on the address it actually connects to: the host
is resolved once, each address is classified, and the socket is opened to an
address that passed (never to the name again, so a DNS answer that changes
between the check and the connection -- rebinding -- changes nothing). Loopback,
unspecified, link-local (cloud metadata), private, shared, reserved and multicast
destinations are refused unless the owner listed that exact ``host:port`` in
``x402.allowedHosts``; ``allowAnyHost`` and wildcard or port-less entries never
cover them (docs/notes/x402.md, "Where the daemon connects").

httpcore is imported here, when the first resource is fetched, not at daemon start.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import typing
from collections.abc import Awaitable, Callable, Iterable

import anyio
import httpcore
import httpx

# host, port -> the addresses the name resolves to (IP literals, no brackets).
Resolver = Callable[[str, int], Awaitable[list[str]]]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services, named so the refusal says what it protects.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The guard did not connect: ``reason`` says where the name led and why not."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(reason)
        self.host = host
        self.port = port
        self.reason = reason


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (A and AAAA), in its order."""
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    seen: dict[str, None] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]).split("%", 1)[0], None)
    return list(seen)


def embedded_ipv4(ip: Address) -> Address:
    """The IPv4 address an IPv6 one stands for (mapped ``::ffff:a.b.c.d`` or NAT64), else ip."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def forbidden(address: str) -> str | None:
    """Why an agent's request must not reach ``address``, or None for a public address."""
    try:
        ip = embedded_ipv4(ipaddress.ip_address(address))
    except ValueError:
        return "not an IP address"
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_unspecified:
        return "an unspecified address (this machine)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private or ip.is_reserved or not ip.is_global:
        return "a private or reserved network address"
    return None


def host_port(host: str, port: int) -> str:
    """``host:port`` as the owner writes an allowed host (IPv6 in brackets)."""
    host = host.lower()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend that connects only to addresses the guard let through.

    ``exempt``: the ``host:port`` entries the owner listed exactly; a connection to one of
    them may reach any address its name resolves to. ``inner`` opens the socket (httpcore's
    anyio backend), always to an IP literal the guard checked.
    """

    def __init__(
        self,
        resolve: Resolver,
        exempt: Iterable[str] = (),
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._resolve = resolve
        self._exempt = frozenset(entry.lower() for entry in exempt)
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port)
        if host_port(host, port) in self._exempt:
            usable = addresses
        else:
            usable = [a for a in addresses if forbidden(a) is None]
        if not usable:
            if not addresses:
                raise httpcore.ConnectError(f"{host} resolves to no address")
            first = addresses[0]
            shown = host if host == first else f"{host} resolves to {first}, which"
            raise Refused(host, port, f"{shown} is {forbidden(first)}")
        error: Exception | None = None
        for address in usable:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("the resource fetcher does not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guarded backend under its connection pool."""

    def __init__(self, backend: GuardedBackend, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls, trust_env=False)
        # The parent's pool has httpcore's default backend and no way to pass another;
        # replaced before it ever connected (it holds no connection yet).
        self._pool = httpcore.AsyncConnectionPool(ssl_context=tls, network_backend=backend)


def tls_context() -> ssl.SSLContext:
    """Made once per daemon (loading the CA bundle is the expensive part)."""
    return httpx.create_ssl_context(trust_env=False)


def client(resolve: Resolver, exempt: Iterable[str], tls: ssl.SSLContext) -> httpx.AsyncClient:
    """A client for one paid request: its connections serve only that request's rules.

    It never follows redirects by itself (``payments.fetch`` checks each hop) and ignores
    proxy variables; each request bounds its own time.
    """
    transport = GuardedTransport(GuardedBackend(resolve, exempt), tls)
    return httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
