"""The OAuth 2.1 authorization server of ``/mcp``: clients, the owner's consent, tokens.

A grant is a waiaas session (label ``oauth:<client name>``) with a row in
``oauth_grants``: the owner revokes it like any other session, the kill switch
stops its sends, its renewals count and its absolute lifetime binds. Access
tokens are short-lived and opaque (``wai_oat_``), refresh tokens (``wai_ort_``)
rotate on every use and a replayed one revokes the whole grant. Only SHA-256
hashes of request ids, codes, tokens and client secrets are stored.
(docs/notes/oauth.md)
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import anyio

from waiaas_core.errors import WaiaasError
from waiaas_core.tokens import SessionClaims
from waiaas_daemon.domain import sessions
from waiaas_daemon.domain.state import DaemonState
from waiaas_daemon.storage import Event, SessionRow
from waiaas_daemon.storage import oauth as store
from waiaas_daemon.storage.oauth import ClientRow, CodeRow, RequestRow

READ = "wallet:read"
SPEND = "wallet:spend"
SCOPES = (READ, SPEND)
ACCESS_PREFIX = "wai_oat_"
REFRESH_PREFIX = "wai_ort_"
LABEL_PREFIX = "oauth:"
#: How long an authorization request waits for the owner's answer.
REQUEST_TTL = 600
#: A registration no grant ever used is forgotten after this long.
UNUSED_CLIENT_SECONDS = 86400
#: A fetched client ID metadata document is fetched again after this long.
DOCUMENT_TTL = 3600
MAX_REDIRECT_URIS = 10
MAX_URI = 2000
MAX_NAME = 64
MAX_STATE = 512
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
GRANT_TYPES = ("authorization_code", "refresh_token")
LOOPBACK = ("127.0.0.1", "[::1]", "localhost")
# Schemes a browser would run or that name something local: never a redirect target.
_NOT_PRIVATE_USE = frozenset(
    {"javascript", "data", "vbscript", "file", "about", "blob", "filesystem", "ftp", "ws", "wss"}
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Fetch = Callable[[str], Awaitable[bytes]]


class OAuthError(Exception):
    """An OAuth error answer (RFC 6749 5.2, RFC 7591 3.2.2): ``error`` is the wire code."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- redirect URIs ------------------------------------------------------------------


def redirect_kind(uri: str) -> str:
    """``https``, ``loopback`` (http on a loopback name) or ``private`` (RFC 8252 7.1)."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI or _CONTROL.search(uri):
        raise OAuthError("invalid_redirect_uri", "A redirect URI must be a URL string.")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if parts.fragment or "#" in uri:
        raise OAuthError("invalid_redirect_uri", f"{uri[:100]}: no fragment is allowed.")
    if scheme == "https" and parts.hostname and "@" not in parts.netloc:
        return "https"
    if scheme == "http" and _host(parts.netloc) in LOOPBACK:
        return "loopback"
    if (
        scheme not in ("http", "https")
        and _SCHEME.fullmatch(scheme)
        and scheme not in _NOT_PRIVATE_USE
    ):
        return "private"
    raise OAuthError(
        "invalid_redirect_uri",
        f"{uri[:100]}: use https, http on a loopback address (127.0.0.1, [::1], localhost) "
        "or an app's own scheme.",
    )


def _host(netloc: str) -> str:
    netloc = netloc.lower()
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.rsplit(":", 1)[0] if ":" in netloc else netloc


def redirect_matches(client: ClientRow, uri: str) -> bool:
    """Exact match; a native client's loopback URI matches with any port (RFC 8252 7.3)."""
    if uri in client.redirect_uris:
        return True
    if client.application_type != "native":
        return False
    asked = urlsplit(uri)
    if asked.scheme != "http" or asked.fragment or _host(asked.netloc) not in LOOPBACK:
        return False
    for registered in client.redirect_uris:
        known = urlsplit(registered)
        if (
            known.scheme == "http"
            and _host(known.netloc) == _host(asked.netloc)
            and known.path == asked.path
            and known.query == asked.query
        ):
            return True
    return False


def redirect_host(uri: str) -> str:
    """What the consent page names as where the answer goes."""
    parts = urlsplit(uri)
    return parts.netloc.lower() if parts.scheme in ("http", "https") else f"{parts.scheme}:"


def with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# -- clients ------------------------------------------------------------------------


def _text(value: Any, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or _CONTROL.search(value):
        raise OAuthError(
            "invalid_client_metadata", f"{name}: a string of at most {limit} characters."
        )
    return value.strip() or None


def _uris(metadata: dict[str, Any]) -> tuple[tuple[str, ...], set[str]]:
    uris = metadata.get("redirect_uris")
    if not isinstance(uris, list) or not 1 <= len(uris) <= MAX_REDIRECT_URIS:
        raise OAuthError(
            "invalid_redirect_uri",
            f"redirect_uris: a list of 1 to {MAX_REDIRECT_URIS} URIs is required.",
        )
    kinds = {redirect_kind(uri) for uri in uris}
    return tuple(dict.fromkeys(uris)), kinds


def _application_type(metadata: dict[str, Any], kinds: set[str]) -> str:
    kind = metadata.get("application_type")
    if kind is None:
        return "web" if kinds == {"https"} else "native"
    if kind not in ("web", "native"):
        raise OAuthError("invalid_client_metadata", "application_type: web or native.")
    if kind == "web" and kinds != {"https"}:
        raise OAuthError("invalid_redirect_uri", "A web client's redirect URIs must be https.")
    return str(kind)


def _grant_types(metadata: dict[str, Any]) -> list[str]:
    grant_types = metadata.get("grant_types", ["authorization_code"])
    response_types = metadata.get("response_types", ["code"])
    if (
        not isinstance(grant_types, list)
        or "authorization_code" not in grant_types
        or any(g not in GRANT_TYPES for g in grant_types)
    ):
        raise OAuthError(
            "invalid_client_metadata",
            "grant_types: authorization_code, and refresh_token if wanted; no other.",
        )
    if response_types != ["code"]:
        raise OAuthError("invalid_client_metadata", 'response_types: ["code"] only.')
    return list(dict.fromkeys(grant_types))


def _scope(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or any(s not in SCOPES for s in value.split()):
        raise OAuthError("invalid_client_metadata", f"scope: some of {' '.join(SCOPES)}.")
    return " ".join(s for s in SCOPES if s in value.split())


async def register(state: DaemonState, metadata: Any) -> tuple[ClientRow, dict[str, Any]]:
    """RFC 7591: a new client from its metadata; the answer holds its secret, if any, once."""
    if not isinstance(metadata, dict):
        raise OAuthError("invalid_client_metadata", "The body must be a JSON object.")
    uris, kinds = _uris(metadata)
    application_type = _application_type(metadata, kinds)
    grant_types = _grant_types(metadata)
    method = metadata.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise OAuthError(
            "invalid_client_metadata",
            f"token_endpoint_auth_method: one of {', '.join(AUTH_METHODS)}.",
        )
    name = _text(metadata.get("client_name"), "client_name", MAX_NAME)
    client_uri = _text(metadata.get("client_uri"), "client_uri", MAX_URI)
    scope = _scope(metadata.get("scope"))
    secret = None if method == "none" else secrets.token_urlsafe(32)
    now = state.now()
    registered = {
        "client_name": name,
        "client_uri": client_uri,
        "redirect_uris": list(uris),
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "application_type": application_type,
        "scope": scope,
    }
    registered = {k: v for k, v in registered.items() if v is not None}
    client = ClientRow(
        id=str(uuid.uuid4()),
        kind="registered",
        name=name,
        redirect_uris=uris,
        application_type=application_type,
        auth_method=method,
        secret_hash=None if secret is None else digest(secret),
        metadata=registered,
        created_at=now,
    )
    await store.put_client(state.db, client, forget_unused_before=now - UNUSED_CLIENT_SECONDS)
    answer: dict[str, Any] = {**registered, "client_id": client.id, "client_id_issued_at": now}
    if secret is not None:
        answer |= {"client_secret": secret, "client_secret_expires_at": 0}
    return client, answer


def is_document_url(client_id: str) -> bool:
    parts = urlsplit(client_id)
    return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")


async def find_client(state: DaemonState, client_id: str, fetch: Fetch) -> ClientRow | None:
    """A registered client, or the client whose metadata document ``client_id`` names."""
    if not client_id or len(client_id) > MAX_URI:
        return None
    client = await store.get_client(state.db, client_id)
    fresh = client is not None and (
        client.kind == "registered" or state.now() - client.created_at < DOCUMENT_TTL
    )
    if fresh or not is_document_url(client_id):
        return client
    return await _document_client(state, client_id, fetch)


async def _document_client(state: DaemonState, url: str, fetch: Fetch) -> ClientRow:
    """A client ID metadata document: the client is who the https URL names."""
    try:
        document = json.loads(await fetch(url))
    except (OAuthError, WaiaasError):
        raise
    except Exception:
        raise OAuthError(
            "invalid_client", "The client's metadata document could not be read."
        ) from None
    if not isinstance(document, dict) or document.get("client_id") != url:
        raise OAuthError("invalid_client", "The metadata document does not name this client_id.")
    if document.get("token_endpoint_auth_method", "none") != "none" or "client_secret" in document:
        raise OAuthError(
            "invalid_client", "A metadata-document client has no secret (method none)."
        )
    try:
        uris, kinds = _uris(document)
        application_type = _application_type(document, kinds)
        grant_types = _grant_types(document)
        name = _text(document.get("client_name"), "client_name", MAX_NAME)
        scope = _scope(document.get("scope"))
    except OAuthError as exc:
        raise OAuthError("invalid_client", exc.description) from None
    now = state.now()
    metadata = {"client_name": name, "grant_types": grant_types, "scope": scope}
    client = ClientRow(
        id=url,
        kind="document",
        name=name,
        redirect_uris=uris,
        application_type=application_type,
        auth_method="none",
        secret_hash=None,
        metadata={k: v for k, v in metadata.items() if v is not None},
        created_at=now,
    )
    await store.put_client(state.db, client, forget_unused_before=now - UNUSED_CLIENT_SECONDS)
    return client


def client_authenticates(client: ClientRow, method: str, secret: str | None) -> bool:
    """The token and revocation endpoints: the method the client registered, its secret."""
    if client.auth_method == "none":
        return method == "none"
    if method != client.auth_method or secret is None or client.secret_hash is None:
        return False
    return hmac.compare_digest(digest(secret), client.secret_hash)


def client_name(client: ClientRow) -> str:
    return client.name or redirect_host(client.redirect_uris[0])


# -- fetching a client's metadata document, with care for what it may reach ----------

MAX_DOCUMENT = 16 * 1024


async def _resolve(host: str, port: int) -> list[str]:
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def fetch_document(
    url: str,
    *,
    timeout: float = 5.0,
    resolve: Callable[[str, int], Awaitable[list[str]]] = _resolve,
    allowed: Callable[[str], bool] | None = None,
    verify: Any = True,
) -> bytes:
    """GET an https client metadata document from a public address only (SSRF).

    The name is resolved once; every address must be global (no loopback, private,
    link-local, reserved or multicast one), and the connection goes to the address
    checked, with the name kept for TLS (SNI and certificate). No redirect is
    followed; at most 16 KiB is read. ``resolve``, ``allowed`` and ``verify`` let a
    test serve a document on loopback with its own certificate.
    """
    import httpx

    allowed = allowed or public_address
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or 443
    try:
        addresses = sorted(set(await resolve(host, port)))
    except OSError:
        raise OAuthError("invalid_client", "The client's metadata host does not resolve.") from None
    if not addresses or not all(allowed(a) for a in addresses):
        raise OAuthError("invalid_client", "The client's metadata host is not a public address.")
    ip = addresses[0]
    netloc = f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
    target = urlunsplit(("https", netloc, parts.path, parts.query, ""))
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1], "Accept": "application/json"}
    client = httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=verify
    )
    stream = client.stream("GET", target, headers=headers, extensions={"sni_hostname": host})
    async with client, stream as r:
        if r.status_code != 200:
            raise OAuthError(
                "invalid_client", f"The client's metadata URL answered {r.status_code}."
            )
        body = b""
        async for chunk in r.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT:
                raise OAuthError("invalid_client", "The client's metadata document is too large.")
    return body


def public_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


# -- the authorization request and the owner's answer --------------------------------


@dataclass(frozen=True)
class Pending:
    request: RequestRow
    client: ClientRow

    @property
    def name(self) -> str:
        return client_name(self.client)

    @property
    def scopes(self) -> list[str]:
        return self.request.scope.split()


def check_pkce(params: dict[str, str]) -> str:
    if params.get("code_challenge_method") != "S256":
        raise OAuthError("invalid_request", "code_challenge_method must be S256 (PKCE, no plain).")
    challenge = params.get("code_challenge", "")
    if not _CHALLENGE.fullmatch(challenge):
        raise OAuthError("invalid_request", "code_challenge: the base64url SHA-256 of a verifier.")
    return challenge


def requested_scope(raw: str | None, client: ClientRow) -> str:
    """The scopes asked for: known ones only, within the client's registration; none: all."""
    allowed = (client.metadata.get("scope") or " ".join(SCOPES)).split()
    asked = (raw or " ".join(allowed)).split()
    unknown = [s for s in asked if s not in SCOPES or s not in allowed]
    if unknown or not asked:
        raise OAuthError("invalid_scope", f"Scopes offered: {' '.join(allowed)}.")
    return " ".join(s for s in SCOPES if s in asked)


async def start(
    state: DaemonState,
    client: ClientRow,
    *,
    redirect_uri: str,
    client_state: str,
    challenge: str,
    scope: str,
    resource: str,
    issuer: str,
) -> str:
    """Keep the request for the owner; returns its id, which only the consent URL holds."""
    raw = secrets.token_urlsafe(32)
    now = state.now()
    await store.add_request(
        state.db,
        RequestRow(
            id_hash=digest(raw),
            client_id=client.id,
            redirect_uri=redirect_uri,
            state=client_state,
            code_challenge=challenge,
            scope=scope,
            resource=resource,
            issuer=issuer,
            created_at=now,
            expires_at=now + REQUEST_TTL,
        ),
    )
    return raw


async def pending(state: DaemonState, raw_id: str) -> Pending:
    request = await store.get_request(state.db, digest(raw_id), state.now())
    client = None if request is None else await store.get_client(state.db, request.client_id)
    if request is None or client is None:
        raise WaiaasError(
            "NOT_FOUND",
            "This authorization request is unknown or has expired.",
            hint="Start the connection again from the agent's app.",
        )
    return Pending(request, client)


def _answer(request: RequestRow, params: dict[str, str]) -> str:
    return with_query(
        request.redirect_uri, {**params, "state": request.state, "iss": request.issuer}
    )


async def deny(state: DaemonState, raw_id: str) -> str:
    """The owner said no: the client learns access_denied; returns where the browser goes."""
    found = await pending(state, raw_id)
    event = Event("owner", "oauth.deny", details=_client_details(found.client, found.request.scope))
    request = await store.take_request(state.db, digest(raw_id), state.now(), [event])
    if request is None:
        raise WaiaasError("NOT_FOUND", "This authorization request was already answered.")
    return _answer(request, {"error": "access_denied", "error_description": "The owner refused."})


async def allow(
    state: DaemonState,
    raw_id: str,
    *,
    wallet_id: str,
    ttl: int,
    constraints: dict[str, Any] | None,
    spend: bool,
) -> str:
    """The owner said yes: a session for the client and a code; returns the redirect."""
    found = await pending(state, raw_id)
    scopes = found.scopes if spend else [s for s in found.scopes if s != SPEND]
    if not scopes:
        scopes = [READ]
    scope = " ".join(scopes)
    caps = dict(constraints or {})
    if SPEND not in scopes:
        caps["readOnly"] = True
    issued = await sessions.issue(
        state,
        wallet_id,
        ttl=ttl,
        constraints=caps,
        label=LABEL_PREFIX + found.name[: MAX_NAME - len(LABEL_PREFIX)],
        details={"oauth": _client_details(found.client, scope)},
    )
    request = await store.take_request(state.db, digest(raw_id), state.now(), [])
    if request is None:  # another answer came first: this session must not stay
        await sessions.revoke(state, issued.session.id)
        raise WaiaasError("NOT_FOUND", "This authorization request was already answered.")
    code = secrets.token_urlsafe(32)
    await store.add_grant(
        state.db,
        session_id=issued.session.id,
        client_id=request.client_id,
        scope=scope,
        resource=request.resource,
        code=CodeRow(
            code_hash=digest(code),
            session_id=issued.session.id,
            client_id=request.client_id,
            redirect_uri=request.redirect_uri,
            code_challenge=request.code_challenge,
            expires_at=state.now() + state.settings.authorization_code_ttl,
            used_at=None,
        ),
        now=state.now(),
    )
    return _answer(request, {"code": code})


def _client_details(client: ClientRow, scope: str) -> dict[str, Any]:
    return {
        "clientId": client.id[:200],
        "clientName": client.name,
        "redirectHosts": sorted({redirect_host(u) for u in client.redirect_uris}),
        "scope": scope,
    }


# -- the token endpoint ---------------------------------------------------------------


def _pkce_ok(verifier: str, challenge: str) -> bool:
    if not _VERIFIER.fullmatch(verifier):
        return False
    hashed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return hmac.compare_digest(hashed.decode(), challenge)


async def exchange_code(
    state: DaemonState,
    client: ClientRow,
    *,
    code: str,
    verifier: str,
    redirect_uri: str | None,
    resource: str | None,
) -> dict[str, Any]:
    """A code is spent by its first exchange; any failure after that ends its grant."""
    now = state.now()
    row, fresh = await store.spend_code(state.db, digest(code), now)
    if row is None:
        raise OAuthError("invalid_grant", "The authorization code is not known.")
    if not fresh:
        # RFC 6749 4.1.2: a code used twice may have leaked; what it gave is revoked.
        await _end_grant(state, row.session_id, "oauth.code_reuse")
        raise OAuthError("invalid_grant", "The authorization code was already used.")
    problem = None
    if row.client_id != client.id:
        problem = "The authorization code was issued to another client."
    elif row.expires_at <= now:
        problem = "The authorization code has expired."
    elif redirect_uri is not None and redirect_uri != row.redirect_uri:
        problem = "redirect_uri is not the one of the authorization request."
    elif not _pkce_ok(verifier, row.code_challenge):
        problem = "The code_verifier does not match the code_challenge."
    if problem is not None:
        await _end_grant(state, row.session_id, None)
        raise OAuthError("invalid_grant", problem)
    grant = await store.grant_of(state.db, row.session_id)
    if grant is None:
        raise OAuthError("invalid_grant", "The grant is gone.")
    if resource is not None and resource != grant[2]:
        await _end_grant(state, row.session_id, None)
        raise OAuthError("invalid_target", "The code was issued for another resource.")
    session = await _live_session(state, row.session_id)
    return await _issue(state, session, scope=grant[1], rotated=None)


async def refresh(
    state: DaemonState,
    client: ClientRow,
    *,
    token: str,
    scope: str | None,
    resource: str | None,
) -> dict[str, Any]:
    """Rotate: a new refresh token each time; a spent one presented again ends the grant."""
    row = (
        await store.get_token(state.db, digest(token)) if token.startswith(REFRESH_PREFIX) else None
    )
    if row is None or row.kind != "refresh" or row.client_id != client.id:
        raise OAuthError("invalid_grant", "The refresh token is not known.")
    if row.used_at is not None:
        await _end_grant(state, row.session_id, "oauth.refresh_reuse")
        raise OAuthError(
            "invalid_grant", "The refresh token was already used; the grant is revoked."
        )
    if row.expires_at <= state.now():
        raise OAuthError("invalid_grant", "The refresh token has expired.")
    if resource is not None and resource != row.resource:
        raise OAuthError("invalid_target", "The grant is for another resource.")
    granted = row.scope.split()
    asked = granted if scope is None else scope.split()
    if not asked or any(s not in granted for s in asked):
        raise OAuthError("invalid_scope", f"The grant's scope is {row.scope}.")
    session = await _live_session(state, row.session_id)
    session = await sessions.renew_by_daemon(state, session)
    return await _issue(
        state, session, scope=" ".join(s for s in SCOPES if s in asked), rotated=row.token_hash
    )


async def _live_session(state: DaemonState, session_id: str) -> SessionRow:
    session = await state.db.get_session(session_id)
    now = state.clock()
    if session is None or session.revoked_at is not None:
        raise OAuthError("invalid_grant", "The grant was revoked.")
    if session.expires_at <= now or sessions.absolute_expiry(state, session) <= now:
        raise OAuthError("invalid_grant", "The grant has expired.")
    return session


async def _issue(
    state: DaemonState, session: SessionRow, *, scope: str, rotated: str | None
) -> dict[str, Any]:
    now = state.now()
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    refresh_token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    access_expires = min(now + state.settings.access_token_ttl, session.expires_at)
    refresh_expires = sessions.absolute_expiry(state, session)
    stored = await store.add_tokens(
        state.db,
        [
            (digest(access), "access", scope, access_expires),
            (digest(refresh_token), "refresh", scope, refresh_expires),
        ],
        session_id=session.id,
        now=now,
        rotated=rotated,
    )
    if not stored:
        # Two refreshes with one token: the loser is a replay (RFC 9700 4.14.2).
        await _end_grant(state, session.id, "oauth.refresh_reuse")
        raise OAuthError(
            "invalid_grant", "The refresh token was already used; the grant is revoked."
        )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": max(0, access_expires - now),
        "refresh_token": refresh_token,
        "scope": scope,
    }


async def _end_grant(state: DaemonState, session_id: str, reason: str | None) -> None:
    session = await state.db.get_session(session_id)
    if session is None or session.revoked_at is not None:
        return
    events = [
        Event(
            "daemon",
            "session.revoke",
            session.wallet_id,
            session_id,
            details={"by": reason or "oauth.failed_exchange"},
        )
    ]
    if reason is not None:
        events.append(Event("daemon", reason, session.wallet_id, session_id))
    await state.db.revoke_session(session_id, state.now(), events)


async def revoke(state: DaemonState, client: ClientRow, token: str) -> None:
    """RFC 7009: a refresh token ends its grant, an access token itself; unknown: nothing."""
    row = await store.get_token(state.db, digest(token))
    if row is None or row.client_id != client.id:
        return
    if row.kind == "access":
        await store.drop_token(state.db, row.token_hash)
        return
    session = await state.db.get_session(row.session_id)
    if session is None or session.revoked_at is not None:
        return
    events = [
        Event(
            "daemon",
            "session.revoke",
            session.wallet_id,
            session.id,
            details={"by": "oauth.revoke"},
        ),
        Event("daemon", "oauth.revoke", session.wallet_id, session.id),
    ]
    await state.db.revoke_session(session.id, state.now(), events)


# -- using an access token at /mcp -----------------------------------------------------


async def authenticate_access(
    state: DaemonState, token: str, resource: str | None
) -> sessions.Authenticated:
    """An access token: live, for ``resource`` (None: already checked at /mcp), its
    session live. A token without the spend scope sees its session as read-only."""
    row = await store.get_token(state.db, digest(token))
    if row is None or row.kind != "access":
        raise WaiaasError("INVALID_TOKEN", "The access token is not known.")
    now = state.clock()
    if row.expires_at <= now:
        raise WaiaasError("SESSION_EXPIRED", "The access token has expired; refresh it.")
    if resource is not None and row.resource != resource:
        raise WaiaasError("INVALID_TOKEN", "The access token was issued for another resource.")
    session = await state.db.get_session(row.session_id)
    if session is None:
        raise WaiaasError("INVALID_TOKEN", "The access token's grant is gone.")
    if session.revoked_at is not None:
        raise WaiaasError("SESSION_REVOKED")
    if session.expires_at <= now or sessions.absolute_expiry(state, session) <= now:
        raise WaiaasError("SESSION_EXPIRED")
    if SPEND not in row.scope.split():
        session = dataclasses.replace(
            session, constraints={**(session.constraints or {}), "readOnly": True}
        )
    claims = SessionClaims(session.id, session.wallet_id, row.created_at, row.expires_at)
    return sessions.Authenticated(claims, session)
