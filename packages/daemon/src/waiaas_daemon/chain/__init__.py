"""Chain adapters: the embedded local ledger and Solana JSON-RPC."""
