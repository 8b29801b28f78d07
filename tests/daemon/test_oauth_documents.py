"""Fetching a client ID metadata document for real: TLS on loopback with a test
certificate for ``agent.test``, the name resolved by the test.

The connection goes to the address that was checked while TLS still verifies the
certificate of the name (SNI); redirects are not followed; a large document is cut
off; and without the test's permission a loopback address is refused before any
connection is made.
"""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from waiaas_daemon.domain import oauth

pytestmark = pytest.mark.anyio

NAME = "agent.test"
DOCUMENT = b'{"client_id": "x"}'


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class Handler(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        Handler.hosts.append(self.headers.get("Host", ""))
        if self.path == "/client.json":
            self._answer(200, DOCUMENT)
        elif self.path == "/moved.json":
            self.send_response(302)
            self.send_header("Location", "/client.json")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big.json":
            self._answer(200, b" " * (oauth.MAX_DOCUMENT + 1))
        else:
            self._answer(404, b"{}")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[int, ssl.SSLContext]]:
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        yield httpd.server_address[1], trust
    finally:
        httpd.shutdown()
        httpd.server_close()


async def loopback(host: str, port: int) -> list[str]:
    assert host == NAME
    return ["127.0.0.1"]


async def test_the_document_comes_from_the_checked_address_with_the_names_certificate(server):
    port, trust = server
    Handler.hosts.clear()
    body = await oauth.fetch_document(
        f"https://{NAME}:{port}/client.json", resolve=loopback, allowed=lambda a: True, verify=trust
    )
    assert body == DOCUMENT
    assert Handler.hosts == [f"{NAME}:{port}"]


async def test_a_redirect_is_not_followed_and_a_large_document_is_refused(server):
    port, trust = server
    for path, problem in (("/moved.json", "answered 302"), ("/big.json", "too large")):
        with pytest.raises(oauth.OAuthError, match=problem):
            await oauth.fetch_document(
                f"https://{NAME}:{port}{path}",
                resolve=loopback,
                allowed=lambda a: True,
                verify=trust,
            )


async def test_a_name_that_resolves_to_loopback_is_refused_before_connecting(server):
    port, trust = server
    Handler.hosts.clear()
    with pytest.raises(oauth.OAuthError, match="not a public address"):
        await oauth.fetch_document(
            f"https://{NAME}:{port}/client.json", resolve=loopback, verify=trust
        )
    assert Handler.hosts == []


async def test_a_certificate_for_another_name_fails(server):
    port, trust = server

    async def other(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    with pytest.raises(Exception, match=r"(?i)certificate|hostname"):
        await oauth.fetch_document(
            f"https://other.test:{port}/client.json",
            resolve=other,
            allowed=lambda a: True,
            verify=trust,
        )
