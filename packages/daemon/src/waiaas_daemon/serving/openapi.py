"""The OpenAPI 3.1 description of the REST API, made from the routes themselves.

Each route's endpoint carries the ``Operation`` that ``api.operation`` declared:
its auth, body, query and answer types and its error codes. Schemas come from
the msgspec models; bounds an operator can change (``expiresIn``) from the
Settings, so the document always describes the daemon that serves it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import msgspec
from starlette.routing import BaseRoute, Route

from waiaas_core.config import Settings
from waiaas_core.errors import ERRORS
from waiaas_daemon import __version__
from waiaas_daemon.schemas import BASE58_PATTERN
from waiaas_daemon.schemas.system import ErrorBody
from waiaas_daemon.serving.api import Operation

Schema = dict[str, Any]
REF = "#/components/schemas/{name}"
UUID: Schema = {"type": "string", "format": "uuid"}

# Every request can meet the Host guard; a body, the body errors; auth, its own.
HOST_ERRORS = ("INVALID_HOST",)
BODY_ERRORS = ("INVALID_REQUEST", "PAYLOAD_TOO_LARGE")
AUTH: dict[str, tuple[list[dict[str, list[str]]], tuple[str, ...]]] = {
    "public": ([], ()),
    "master": ([{"masterAuth": []}], ("INVALID_MASTER_PASSWORD", "MASTER_PASSWORD_LOCKED")),
    "session": ([{"sessionAuth": []}], ("INVALID_TOKEN", "SESSION_EXPIRED", "SESSION_REVOKED")),
}


def operations(routes: Iterable[BaseRoute]) -> list[tuple[str, str, Operation]]:
    """(method, path, operation) of every declared route, in the app's order."""
    found = []
    for route in routes:
        op = getattr(getattr(route, "endpoint", None), "operation", None)
        if isinstance(route, Route) and isinstance(op, Operation):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method.lower(), route.path, op))
    return found


def openapi_document(routes: Iterable[BaseRoute], settings: Settings) -> dict[str, Any]:
    ops = operations(routes)
    models: set[type] = {ErrorBody}
    for _, _, op in ops:
        models.update(t for t in (op.body, op.query, op.response) if t is not None)
    _, components = msgspec.json.schema_components(
        sorted(models, key=lambda t: t.__name__), ref_template=REF
    )
    _settings_bounds(components, settings)
    components["Error"] = components.pop("ErrorBody")
    components["Error"]["properties"]["code"]["enum"] = list(ERRORS)
    components["OpenApiDocument"] = {"type": "object", "description": "This document."}
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in ops:
        paths.setdefault(path, {})[method] = _operation(op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "waiaas daemon",
            "version": __version__,
            "description": (
                "A self-hosted wallet daemon (Solana and EVM chains) for AI agents. Amounts "
                "are decimal strings of base units (lamports for SOL, wei for ETH), times "
                "unix seconds. Every error is "
                '{"code", "message", "retryable", "hint"?, "requestId"}.'
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "masterAuth": {"type": "apiKey", "in": "header", "name": "X-Master-Password"},
                "sessionAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "wai_sess_<JWT>",
                },
            },
        },
    }


def _operation(op: Operation, components: dict[str, Schema]) -> dict[str, Any]:
    security, auth_errors = AUTH[op.auth]
    body_errors: tuple[str, ...] = ()
    if op.body is not None:
        body_errors = (*BODY_ERRORS, *(("INVALID_ADDRESS",) if _has_address(op.body) else ()))
    query_errors = ("INVALID_REQUEST",) if op.query is not None or op.header_params else ()
    codes = dict.fromkeys((*HOST_ERRORS, *auth_errors, *body_errors, *query_errors, *op.errors))
    answer = _ref(op.raw_response or (op.response.__name__ if op.response else "Empty"))
    ok = {"description": op.summary, "content": {"application/json": {"schema": answer}}}
    result: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": security,
        "responses": {
            **{str(status): ok for status in (op.status, *op.also)},
            **_error_responses(list(codes)),
        },
    }
    if op.body is not None:
        result["requestBody"] = {
            "required": not _all_optional(components[op.body.__name__]),
            "content": {"application/json": {"schema": _ref(op.body.__name__)}},
        }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": UUID, "description": text}
        for name, text in op.path_params.items()
    ]
    if op.query is not None:
        parameters += _query_parameters(components[op.query.__name__])
    parameters += [
        {
            "name": name,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "pattern": pattern},
            "description": text,
        }
        for name, (pattern, text) in op.header_params.items()
    ]
    if parameters:
        result["parameters"] = parameters
    return result


def _query_parameters(schema: Schema) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _non_null(prop)}
        for name, prop in schema["properties"].items()
    ]


def _non_null(prop: Schema) -> Schema:
    # A query parameter is absent rather than null.
    options = prop.get("anyOf")
    if options:
        rest = [o for o in options if o.get("type") != "null"]
        if len(rest) == 1:
            return {**{k: v for k, v in prop.items() if k != "anyOf"}, **rest[0]}
    return prop


def _error_responses(codes: list[str]) -> dict[str, Any]:
    """One response per status, its ``code`` limited to the codes this operation answers."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code].status, []).append(code)
    return {
        str(status): {
            "description": ", ".join(grouped),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [_ref("Error"), {"properties": {"code": {"enum": grouped}}}]
                    }
                }
            },
        }
        for status, grouped in sorted(by_status.items())
    }


def _settings_bounds(components: dict[str, Schema], settings: Settings) -> None:
    for schema in components.values():
        prop = schema.get("properties", {}).get("expiresIn")
        if prop is None:
            continue
        bounds = {"minimum": settings.min_session_ttl, "maximum": settings.max_session_ttl}
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "integer":
                option.update(bounds)


def _has_address(model: type) -> bool:
    """A body with an address field (at any depth) can answer INVALID_ADDRESS."""
    text = json.dumps(msgspec.json.schema(model))
    return BASE58_PATTERN[1:-1] in text


def _all_optional(schema: Schema) -> bool:
    return not schema.get("required")


def _ref(name: str) -> Schema:
    return {"$ref": REF.format(name=name)}
