"""What the EVM chain adapter asks of a node, whichever node it is.

Two implementations: ``JsonRpcNode`` (jsonrpc.py, a remote node or anvil over
HTTP, with failover) and ``EmbeddedNode`` (embedded.py, the in-process
``evm-local`` chain). Both take and answer the Ethereum JSON-RPC wire values:
quantities as ``"0x..."`` hex strings, data as ``"0x..."`` hex, objects as dicts.

Exception tree::

    Exception
     ├── EvmRpcError          the node answered a JSON-RPC error object (a revert with
     │                        its data, "nonce too low", "already known",
     │                        "replacement transaction underpriced", ...)
     └── EvmNodeUnavailable   no node could be reached (every URL failed or is resting)
"""

from __future__ import annotations

from typing import Any, Protocol


class EvmNode(Protocol):
    """One Ethereum JSON-RPC endpoint (or several behind failover, or an in-process chain)."""

    async def request(self, method: str, params: list[Any]) -> Any:
        """Call ``method`` with ``params``; answer the JSON-RPC ``result``.

        Raises ``EvmRpcError`` when the node answered an error object and
        ``EvmNodeUnavailable`` when no node could be reached.
        """
        ...

    async def aclose(self) -> None:
        """Release the node's connections (or its engine); idempotent."""
        ...


class EvmRpcError(Exception):
    """The node answered ``{"error": {"code", "message", "data"}}``.

    A revert answers code 3 with the revert data (``0x08c379a0...`` for
    ``Error(string)``); a refused raw transaction answers -32000 (geth) or
    -32003 (anvil) with a message such as ``nonce too low``.
    """

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"{code}: {message}")

    @classmethod
    def from_wire(cls, error: Any) -> EvmRpcError:
        """The error object of a JSON-RPC answer, however malformed."""
        if not isinstance(error, dict):
            return cls(-32603, str(error)[:200])
        code = error.get("code")
        message = error.get("message")
        return cls(
            code if isinstance(code, int) and not isinstance(code, bool) else -32603,
            message if isinstance(message, str) else "unknown error",
            error.get("data"),
        )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-RPC error object (``data`` only when there is some)."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class EvmNodeUnavailable(Exception):
    """No URL could be reached; the text names hosts only, never a URL's path or query."""
