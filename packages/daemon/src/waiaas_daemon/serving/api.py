"""Each REST operation declared once: method, path, auth, body, query and answer types.

``operation(...)`` builds the Starlette route. The handler's own type hints name
its body (parameter ``body``), query (parameter ``query``) and answer (return
type) as msgspec Structs; the route parses and validates them (400
``INVALID_REQUEST`` naming the field), encodes the answer, and keeps the
declaration on the endpoint so ``openapi.py`` can describe every route from it.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import MAX_NUMBER_DIGITS, canonical_uuid, number_digits_ok
from waiaas_daemon import schemas
from waiaas_daemon.serving.auth import master_auth, session_auth

Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Reply:
    """An answer whose status differs from the route's usual one (a 202 beside a 201)."""

    value: msgspec.Struct
    status: int


@dataclass(frozen=True)
class Operation:
    """What the OpenAPI document says of one route; read from the route's endpoint."""

    operation_id: str
    summary: str
    tag: str
    auth: str
    status: int
    body: type | None
    query: type | None
    response: type | None
    errors: tuple[str, ...]
    also: tuple[int, ...] = ()
    path_params: dict[str, str] = field(default_factory=dict)
    raw_response: str | None = None
    # Optional request headers the route reads: name -> (value pattern, description).
    header_params: dict[str, tuple[str, str]] = field(default_factory=dict)


def operation(
    method: str,
    path: str,
    handler: Handler,
    *,
    auth: str,
    tag: str,
    status: int = 200,
    errors: tuple[str, ...] = (),
    also: tuple[int, ...] = (),
    path_params: dict[str, str] | None = None,
    checks_own_token: bool = False,
    raw_response: str | None = None,
    header_params: dict[str, tuple[str, str]] | None = None,
) -> Route:
    """A route for ``handler`` behind the guard its ``auth`` names.

    ``auth`` is "public", "master" or "session"; a route that checks its token
    itself, in an order of its own (renewal), says ``checks_own_token``.
    """
    hints = typing.get_type_hints(handler)
    body_type = hints.get("body")
    query_type = hints.get("query")
    answer = hints.get("return")
    response_type = answer if _is_struct(answer) else None
    endpoint = _endpoint(handler, body_type, query_type, status)
    if auth == "master":
        endpoint = master_auth(endpoint)
    elif auth == "session" and not checks_own_token:
        endpoint = session_auth(endpoint)
    summary, _, _ = (inspect.getdoc(handler) or handler.__name__).partition("\n")
    endpoint.operation = Operation(  # type: ignore[attr-defined]
        operation_id=_camel(handler.__name__),
        summary=summary.rstrip("."),
        tag=tag,
        auth=auth,
        status=status,
        body=body_type,
        query=query_type,
        response=response_type,
        errors=errors,
        also=also,
        path_params=path_params or {},
        raw_response=raw_response,
        header_params=header_params or {},
    )
    return Route(path, endpoint, methods=[method])


def _endpoint(
    handler: Handler, body_type: type | None, query_type: type | None, status: int
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        kwargs: dict[str, Any] = {}
        if body_type is not None:
            kwargs["body"] = await parse_body(request, body_type)
        if query_type is not None:
            kwargs["query"] = parse_query(request, query_type)
        answer = await handler(request, **kwargs)
        if isinstance(answer, Response):
            return answer
        if isinstance(answer, Reply):
            return json_response(answer.value, answer.status)
        return json_response(answer, status)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


class JsonResponse(Response):
    """Bytes msgspec encoded, headers built directly: the hot path skips Response's setup."""

    media_type = "application/json"

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.status_code = status
        self.body = body
        self.background = None
        self.raw_headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]


def json_response(value: Any, status: int = 200) -> Response:
    return JsonResponse(msgspec.json.encode(value), status)


# -- parsing -----------------------------------------------------------------

_decoders: dict[type, msgspec.json.Decoder[Any]] = {}


async def parse_body(request: Request, model: type[schemas.T]) -> schemas.T:
    """The body as ``model``, validated, or a 400 that names the field."""
    raw = await request.body()
    decoder = _decoders.get(model)
    if decoder is None:
        decoder = _decoders[model] = msgspec.json.Decoder(model, float_hook=_float)
    if not raw.strip():
        raw = b"{}" if schemas.empty_body_allowed(model) else raw
    try:
        value = decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    except (msgspec.DecodeError, RecursionError):
        # Malformed JSON, invalid UTF-8 or a lone surrogate; deep nesting never
        # fits our shallow models, and the decoder's own recursion is bounded.
        raise WaiaasError("INVALID_REQUEST", "The body is not valid JSON.") from None
    schemas.check(value)
    return value


def _float(text: str) -> float:
    """A number with a fraction or an exponent in an open (``Any``) field: at most 30 digits,
    as for every number a route reads (an integer's size is checked by ``json_problem``)."""
    if not number_digits_ok(text):
        raise ValueError(f"a number of more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def parse_query(request: Request, model: type[schemas.T]) -> schemas.T:
    """The query string as ``model``; a value that is not what the route expects is a 400."""
    return convert_query(dict(request.query_params), model)


def convert_query(params: dict[str, str], model: type[schemas.T]) -> schemas.T:
    """Query parameters as ``model``: the one place every route's query is read.

    msgspec's lax conversion reads ``1e1``, ``5.0`` or ``+5`` as an int; a query
    integer is plain ASCII digits or a 400 naming the parameter.
    """
    integers = _integer_params(model)
    values: dict[str, str | int] = {}
    for name, text in params.items():
        if not schemas.is_clean_text(text):
            raise WaiaasError("INVALID_REQUEST", f"{name}: must be plain text")
        if name in integers and not _DIGITS.fullmatch(text):
            raise WaiaasError(
                "INVALID_REQUEST", f"{name}: must be a whole number in digits 0-9 (at most 20)"
            )
        values[name] = int(text) if name in integers else text
    try:
        value = msgspec.convert(values, model, strict=False)
    except msgspec.ValidationError as exc:
        raise validation_error(exc) from None
    schemas.check(value)
    return value


_DIGITS = re.compile(r"[0-9]{1,20}")
_integers: dict[type, frozenset[str]] = {}


def _integer_params(model: type) -> frozenset[str]:
    """The query names of ``model``'s int fields (``int`` or ``int | None``, any constraints)."""
    found = _integers.get(model)
    if found is None:
        names = set()
        for info in getattr(msgspec.inspect.type_info(model), "fields", ()):
            kind = info.type
            if isinstance(kind, msgspec.inspect.Metadata):
                kind = kind.type
            kinds = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
            if any(isinstance(k, msgspec.inspect.IntType) for k in kinds):
                names.add(info.encode_name)
        found = _integers[model] = frozenset(names)
    return found


_AT = re.compile(r"^(?P<detail>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")
_MISSING = re.compile(r"Object missing required field `(?P<name>[^`]*)`")
_REGEX = re.compile(r"Expected `str` matching regex '(?P<pattern>.*)'")


def validation_error(exc: msgspec.ValidationError) -> WaiaasError:
    """msgspec's message rewritten as ``field.path: what is wrong``."""
    match = _AT.match(str(exc))
    assert match is not None
    detail, where = match["detail"], _field_path(match["path"] or "")
    if found := _UNKNOWN.match(detail):
        return _invalid(_join(where, found["name"]), "is not a known field")
    if found := _MISSING.match(detail):
        return _invalid(_join(where, found["name"]), "is required")
    if found := _REGEX.match(detail):
        pattern = found["pattern"]
        if pattern in (schemas.BASE58_PATTERN, schemas.ADDRESS_PATTERN):
            return WaiaasError(
                "INVALID_ADDRESS",
                f"{where}: not an address (base58 Solana address, or 0x and 40 hex digits)",
            )
        return _invalid(where, schemas.PATTERN_TEXT.get(pattern, "has characters not allowed"))
    return _invalid(where, detail[0].lower() + detail[1:] if detail else "is not valid")


def _invalid(where: str, why: str) -> WaiaasError:
    return WaiaasError("INVALID_REQUEST", f"{where or 'body'}: {why}")


def _field_path(path: str) -> str:
    # "$.constraints.allowedRecipients[0]" -> "constraints.allowedRecipients[0]"
    return path.lstrip(".")


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def path_id(request: Request, name: str, not_found: str) -> str:
    """A path id in canonical UUID form; anything else cannot name a record (404)."""
    try:
        return canonical_uuid(request.path_params[name])
    except ValueError:
        raise WaiaasError(not_found) from None


def _is_struct(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, msgspec.Struct)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
