"""EVM chains: the node layer the EVM chain adapter builds on.

- ``node``: the ``EvmNode`` protocol (one ``request(method, params)``) and its errors;
- ``jsonrpc``: ``JsonRpcNode``, JSON-RPC 2.0 over httpx with failover across URLs;
- ``embedded``: ``EmbeddedNode``, the in-process ``evm-local`` chain (py-evm), made
  durable by the daemon's database;
- ``contracts``: the test USDC (ERC-20 + EIP-3009) and a reverting token, source and
  compiled artifacts.

Importing this package loads nothing heavy: the engine and the eth libraries are
imported by ``embedded`` only, when an EVM network is first used.
"""

from .node import EvmNode, EvmNodeUnavailable, EvmRpcError

__all__ = ["EvmNode", "EvmNodeUnavailable", "EvmRpcError"]
