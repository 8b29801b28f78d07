"""The shapes of SPEC section 9 for tool and resource results, built in one place.

Success is JSON text; no valid token and an unreachable daemon are plain results (no
``isError``) so the client keeps the server; an API error carries ``isError``.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult, TextContent

from waiaas_core.agent.api import ApiError, ApiResult, Expired, NetworkError, Ok

SETUP_ACTION = "Run 'waiaas mcp setup'"


def expired_payload(message: str) -> dict[str, Any]:
    return {"session_expired": True, "message": message, "action": SETUP_ACTION}


def payload(result: ApiResult) -> dict[str, Any]:
    """The JSON object a result stands for, whatever its kind."""
    match result:
        case Ok(data):
            return data
        case Expired(message):
            return expired_payload(message)
        case NetworkError(message):
            return {"network_error": True, "message": message}
        case ApiError(error):
            body: dict[str, Any] = {
                "error": True,
                "code": error.code,
                "message": error.message,
                "retryable": error.retryable,
            }
            if error.hint:
                body["hint"] = error.hint
            if error.retry_after is not None:
                body["retryAfter"] = error.retry_after
            return body
    raise TypeError(f"not an ApiResult: {result!r}")  # pragma: no cover


def tool_result(result: ApiResult) -> CallToolResult:
    text = TextContent(type="text", text=to_json(payload(result)))
    if isinstance(result, ApiError):
        return CallToolResult(content=[text], is_error=True)
    return CallToolResult(content=[text])


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
