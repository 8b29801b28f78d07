"""OAuth 2.1 for ``/mcp``: metadata (RFC 9728, RFC 8414), registration (RFC 7591),
authorization, token and revocation (RFC 7009) endpoints.

These speak OAuth, not our REST conventions: form bodies, OAuth error answers
(``{"error", "error_description"}``), so they are not in the OpenAPI document.
The owner answers an authorization request in the console
(``console/pages/consent.py``); the rules live in ``domain/oauth.py``.
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_daemon.domain import oauth
from waiaas_daemon.domain.oauth import OAuthError
from waiaas_daemon.serving import public
from waiaas_daemon.serving.auth import state_of

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
CONSENT_PATH = "/console/oauth/"


class RateLimit:
    """At most ``limit`` hits per key in a sliding ``window`` of the daemon's clock."""

    MAX_KEYS = 10_000

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}

    def hit(self, key: str) -> None:
        now = self.clock()
        if len(self._hits) > self.MAX_KEYS:
            self._hits.clear()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            retry = int(hits[0] + self.window - now) + 1
            raise WaiaasError(
                "RATE_LIMITED", "Too many OAuth requests; wait a little.", retry_after=retry
            )
        hits.append(now)


class OAuthEndpoints:
    """The endpoints with what they share: rate limits and the client document fetcher."""

    def __init__(
        self, clock: Callable[[], float], fetch: oauth.Fetch = oauth.fetch_document
    ) -> None:
        self.fetch = fetch
        self.registrations = RateLimit(20, 600, clock)
        self.authorizations = RateLimit(60, 600, clock)
        self.tokens = RateLimit(60, 600, clock)
        # Every unknown https client_id is a fetch: at most this many, from all callers.
        self.documents = RateLimit(30, 600, clock)

    async def _fetch(self, url: str) -> bytes:
        self.documents.hit("documents")
        return await self.fetch(url)

    # -- metadata ------------------------------------------------------------------------

    async def resource_metadata(self, request: Request) -> Response:
        settings = state_of(request).settings
        origin = public.origin(request.scope, settings)
        document = {
            "resource": origin + public.MCP_PATH,
            "authorization_servers": [origin],
            "scopes_supported": list(oauth.SCOPES),
            "bearer_methods_supported": ["header"],
            "resource_name": "waiaas wallet",
        }
        return JSONResponse(document, headers={"Cache-Control": "max-age=300"})

    async def server_metadata(self, request: Request) -> Response:
        origin = public.origin(request.scope, state_of(request).settings)
        document = {
            "issuer": origin,
            "authorization_endpoint": f"{origin}/oauth/authorize",
            "token_endpoint": f"{origin}/oauth/token",
            "registration_endpoint": f"{origin}/oauth/register",
            "revocation_endpoint": f"{origin}/oauth/revoke",
            "scopes_supported": list(oauth.SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(oauth.GRANT_TYPES),
            "token_endpoint_auth_methods_supported": list(oauth.AUTH_METHODS),
            "revocation_endpoint_auth_methods_supported": list(oauth.AUTH_METHODS),
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }
        return JSONResponse(document, headers={"Cache-Control": "max-age=300"})

    # -- registration ----------------------------------------------------------------------

    async def register(self, request: Request) -> Response:
        self.registrations.hit(_client_address(request))
        try:
            metadata = msgspec.json.decode(await request.body())
        except msgspec.DecodeError:
            return _oauth_error(OAuthError("invalid_client_metadata", "The body must be JSON."))
        try:
            _, answer = await oauth.register(state_of(request), metadata)
        except OAuthError as error:
            return _oauth_error(error)
        return JSONResponse(answer, status_code=201, headers=NO_STORE)

    # -- authorization -----------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        state = state_of(request)
        try:
            params = _single(request.url.query)
        except OAuthError as error:
            return _page_error(error)
        client_id = params.get("client_id", "")
        # Authorization requests are a person's clicks: per caller, whatever client_id.
        self.authorizations.hit(_client_address(request))
        # Until the client and its redirect URI are known good, errors go to the browser,
        # never to a URI (RFC 6749 4.1.2.1): no open redirect.
        try:
            client = await oauth.find_client(state, client_id, self._fetch)
        except OAuthError as error:
            return _page_error(error)
        if client is None:
            return _page_error(OAuthError("invalid_request", "Unknown client_id."))
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is None and len(client.redirect_uris) == 1:
            redirect_uri = client.redirect_uris[0]
        if redirect_uri is None or not oauth.redirect_matches(client, redirect_uri):
            return _page_error(
                OAuthError("invalid_request", "redirect_uri is not one this client registered.")
            )
        origin = public.origin(request.scope, state.settings)
        back = {"iss": origin} | ({"state": params["state"]} if "state" in params else {})
        try:
            target = await self._start(request, client, redirect_uri, params, origin)
        except OAuthError as error:
            answer = oauth.with_query(redirect_uri, {**error.body(), **back})
            return RedirectResponse(answer, status_code=303, headers=PAGE_HEADERS)
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)

    async def _start(
        self,
        request: Request,
        client: Any,
        redirect_uri: str,
        params: dict[str, str],
        origin: str,
    ) -> str:
        state = state_of(request)
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code.")
        client_state = params.get("state", "")
        if not client_state or len(client_state) > oauth.MAX_STATE:
            raise OAuthError("invalid_request", "state is required (at most 512 characters).")
        challenge = oauth.check_pkce(params)
        scope = oauth.requested_scope(params.get("scope"), client)
        resource = public.resource(request.scope, state.settings)
        if params.get("resource", resource) != resource:
            raise OAuthError("invalid_target", f"This server issues tokens for {resource} only.")
        raw = await oauth.start(
            state,
            client,
            redirect_uri=redirect_uri,
            client_state=client_state,
            challenge=challenge,
            scope=scope,
            resource=resource,
            issuer=origin,
        )
        # The owner answers in the console, which is never on the public side: a request
        # that came through public_url goes to the daemon's own address.
        local = state.base_url or state.settings.base_url
        base = local if public.came_public(request.scope, state.settings) else ""
        return f"{base}{CONSENT_PATH}{raw}"

    # -- token and revocation ------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        state = state_of(request)
        try:
            form = _single((await request.body()).decode("utf-8", "strict"), form=request)
            client = await self._client(request, form)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                answer = await oauth.exchange_code(
                    state,
                    client,
                    code=form.get("code", ""),
                    verifier=form.get("code_verifier", ""),
                    redirect_uri=form.get("redirect_uri"),
                    resource=form.get("resource"),
                )
            elif grant_type == "refresh_token":
                if "refresh_token" not in client.metadata.get("grant_types", ["refresh_token"]):
                    raise OAuthError(
                        "unauthorized_client", "This client did not register refresh_token."
                    )
                answer = await oauth.refresh(
                    state,
                    client,
                    token=form.get("refresh_token", ""),
                    scope=form.get("scope"),
                    resource=form.get("resource"),
                )
            else:
                raise OAuthError("unsupported_grant_type", "authorization_code or refresh_token.")
        except UnicodeDecodeError:
            return _oauth_error(OAuthError("invalid_request", "The body must be UTF-8."))
        except OAuthError as error:
            return _oauth_error(error)
        return JSONResponse(answer, headers=NO_STORE)

    async def revoke(self, request: Request) -> Response:
        try:
            form = _single((await request.body()).decode("utf-8", "strict"), form=request)
            client = await self._client(request, form)
        except UnicodeDecodeError:
            return _oauth_error(OAuthError("invalid_request", "The body must be UTF-8."))
        except OAuthError as error:
            return _oauth_error(error)
        await oauth.revoke(state_of(request), client, form.get("token", ""))
        return Response(status_code=200, headers=NO_STORE)

    async def _client(self, request: Request, form: dict[str, str]) -> Any:
        """RFC 6749 2.3.1: Basic, or client_secret in the body, or a public client's id."""
        method, client_id, secret = "none", form.get("client_id", ""), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                pair = base64.b64decode(header[6:].strip(), validate=True).decode()
                raw_id, _, raw_secret = pair.partition(":")
            except ValueError:
                raise OAuthError("invalid_client", "A malformed Basic header.", 401) from None
            if client_id and client_id != unquote(raw_id):
                raise OAuthError("invalid_request", "Two different client ids.")
            method, client_id, secret = "client_secret_basic", unquote(raw_id), unquote(raw_secret)
        elif secret is not None:
            method = "client_secret_post"
        self.tokens.hit(client_id[:200] or _client_address(request))
        client = await oauth.find_client(state_of(request), client_id, self._fetch)
        if client is None or not oauth.client_authenticates(client, method, secret):
            raise OAuthError("invalid_client", "Client authentication failed.", 401)
        return client

    def routes(self) -> list[Route]:
        return [
            Route(public.PRM_PATH + public.MCP_PATH, self.resource_metadata, methods=["GET"]),
            Route(public.PRM_PATH, self.resource_metadata, methods=["GET"]),
            Route(public.METADATA_PATH, self.server_metadata, methods=["GET"]),
            Route("/oauth/register", self.register, methods=["POST"]),
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
        ]


def _single(query: str, *, form: Request | None = None) -> dict[str, str]:
    """Parameters sent once each (RFC 6749 3.1); a form must say it is one."""
    if form is not None:
        kind = form.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "Send application/x-www-form-urlencoded.")
    try:
        fields = parse_qs(query, keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "Parameters must be UTF-8.") from None
    repeated = [name for name, values in fields.items() if len(values) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"{repeated[0][:40]} is given more than once.")
    return {name: values[0] for name, values in fields.items()}


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _oauth_error(error: OAuthError) -> JSONResponse:
    headers = dict(NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="waiaas"'
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def _page_error(error: OAuthError) -> Response:
    """The browser itself is told: the request cannot be answered to the client."""
    return JSONResponse(error.body(), status_code=400, headers=PAGE_HEADERS)
