"""Public on loopback, network local only: the local chain's JSON-RPC for an x402 facilitator."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from waiaas_core.errors import WaiaasError
from waiaas_core.limits import json_problem
from waiaas_daemon.schemas._base import Model
from waiaas_daemon.serving import local_rpc
from waiaas_daemon.serving.api import operation
from waiaas_daemon.serving.auth import state_of

# A numeric id is a signed 64-bit integer (a Solana node reads a u64; 19 digits fit both).
RpcId = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]


class JsonRpcRequest(Model):
    """One JSON-RPC 2.0 call (no batches)."""

    jsonrpc: Annotated[str, Meta(pattern=r"^2\.0$")]
    method: Annotated[str, Meta(max_length=64)]
    id: RpcId | Annotated[str, Meta(max_length=64)] | None = None
    params: Annotated[list[Any], Meta(max_length=8)] = []

    def check(self) -> None:
        # ``params`` is open JSON: the limits every typed route gets from its types
        # (nesting, number size, NUL) are checked here; the body is level 1, params 2.
        problem = json_problem(self.params, depth=2)
        if problem is not None:
            raise WaiaasError("INVALID_REQUEST", f"params: {problem}")


class JsonRpcAnswer(Model, omit_defaults=True):
    """``result`` on success, else ``error`` {code, message}, as Solana's JSON-RPC answers."""

    jsonrpc: str
    id: int | str | None
    result: Any = None
    error: dict[str, Any] | None = None


async def local_rpc_call(request: Request, body: JsonRpcRequest) -> JsonRpcAnswer:
    """Solana JSON-RPC on the daemon's local chain (loopback, network local only)."""
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": body.id}
    try:
        answer["result"] = await local_rpc.call(state_of(request), body.method, body.params)
    except local_rpc.RpcFault as fault:
        answer["error"] = {"code": fault.code, "message": fault.message}
    # A result may itself be null (an unknown account): sent as is, not omitted.
    return JSONResponse(answer)  # type: ignore[return-value]


async def local_evm_rpc_call(request: Request, body: JsonRpcRequest) -> JsonRpcAnswer:
    """Ethereum JSON-RPC on the daemon's embedded EVM, evm-local (loopback)."""
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": body.id}
    try:
        answer["result"] = await local_rpc.call_evm(state_of(request), body.method, body.params)
    except local_rpc.RpcFault as fault:
        answer["error"] = {"code": fault.code, "message": fault.message}
    return JSONResponse(answer)  # type: ignore[return-value]


def routes() -> list[Route]:
    return [
        operation(
            "POST",
            "/v1/local-rpc",
            local_rpc_call,
            auth="public",
            tag="system",
            errors=("NOT_FOUND",),
        ),
        operation(
            "POST",
            "/v1/local-rpc/evm-local",
            local_evm_rpc_call,
            auth="public",
            tag="system",
            errors=("NOT_FOUND",),
        ),
    ]
