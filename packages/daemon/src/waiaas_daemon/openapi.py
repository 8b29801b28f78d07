"""The OpenAPI 3.1 description of the REST API, served at ``GET /openapi.json``.

Bounds an operator can change (``expiresIn``) come from the Settings, so the
document always describes the daemon that serves it.
"""

from __future__ import annotations

from typing import Any

from waiaas_core.config import NETWORKS, Settings
from waiaas_core.errors import ERRORS
from waiaas_daemon import __version__

Schema = dict[str, Any]

# Every request can meet the Host guard; an authenticated one, its auth's errors.
HOST_ERRORS = ("INVALID_HOST",)
BODY_ERRORS = ("INVALID_REQUEST", "PAYLOAD_TOO_LARGE")
AUTH: dict[str, tuple[list[dict[str, list[str]]], tuple[str, ...]]] = {
    "public": ([], ()),
    "master": (
        [{"masterAuth": []}],
        ("INVALID_MASTER_PASSWORD", "MASTER_PASSWORD_LOCKED"),
    ),
    "session": (
        [{"sessionAuth": []}],
        ("INVALID_TOKEN", "SESSION_EXPIRED", "SESSION_REVOKED"),
    ),
}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with exactly these fields; responses and requests both list all of theirs."""
    schema: Schema = {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


UUID: Schema = {"type": "string", "format": "uuid"}
UNIX_TIME: Schema = {"type": "integer", "minimum": 0, "description": "Unix time, seconds."}
COUNT: Schema = {"type": "integer", "minimum": 0}


def schemas(settings: Settings) -> dict[str, Schema]:
    return {
        **_common_schemas(),
        **_wallet_schemas(),
        **_session_schemas(settings),
        **_transaction_schemas(),
    }


def _common_schemas() -> dict[str, Schema]:
    return {
        "Error": obj(
            {
                "code": {"type": "string", "enum": list(ERRORS)},
                "message": {"type": "string"},
                "retryable": {"type": "boolean"},
                "requestId": {"type": "string"},
            },
            {"hint": {"type": "string"}},
        ),
        "Lamports": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "minLength": 1,
            "maxLength": 20,
            "description": "An amount of lamports as a decimal string, 1 to 2^64-1.",
        },
        "Address": {
            "type": "string",
            "pattern": "^[1-9A-HJ-NP-Za-km-z]{32,44}$",
            "description": "A Solana address: base58 text of exactly 32 bytes.",
        },
        "Health": obj(
            {"status": {"const": "ok"}, "version": {"type": "string"}, "uptimeSeconds": COUNT}
        ),
        "Nonce": obj(
            {
                "nonce": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "expiresAt": UNIX_TIME,
            }
        ),
        "AdminStatus": obj(
            {
                "status": {"const": "ok"},
                "version": {"type": "string"},
                "uptimeSeconds": COUNT,
                "network": {"enum": list(NETWORKS)},
                "walletCount": COUNT,
                "activeSessionCount": COUNT,
            }
        ),
        "OpenApiDocument": {"type": "object", "description": "This document."},
    }


def _wallet_schemas() -> dict[str, Schema]:
    return {
        "WalletCreate": obj(
            # The name must hold something besides whitespace; it is stored stripped.
            {"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}},
            {
                "network": {
                    "enum": list(NETWORKS),
                    "description": "Defaults to the daemon's network.",
                }
            },
        ),
        "Wallet": obj(
            {
                "id": UUID,
                "name": {"type": "string", "maxLength": 100},
                "chain": {"const": "solana"},
                "network": {"enum": list(NETWORKS)},
                "address": ref("Address"),
                "status": {"enum": ["ACTIVE", "TERMINATED"]},
                "createdAt": UNIX_TIME,
            }
        ),
        "WalletList": obj({"items": {"type": "array", "items": ref("Wallet")}}),
        "WalletAddress": obj(
            {
                "walletId": UUID,
                "chain": {"const": "solana"},
                "network": {"enum": list(NETWORKS)},
                "address": ref("Address"),
            }
        ),
        "WalletBalance": obj(
            {
                "walletId": UUID,
                "chain": {"const": "solana"},
                "network": {"enum": list(NETWORKS)},
                "address": ref("Address"),
                "balance": {
                    "type": "string",
                    "pattern": "^[0-9]+$",
                    "description": "Lamports, as a decimal string.",
                },
                "decimals": {"const": 9},
                "symbol": {"const": "SOL"},
            }
        ),
        "AirdropRequest": obj({"amount": ref("Lamports")}),
    }


def _session_schemas(settings: Settings) -> dict[str, Schema]:
    expires_in = {
        "type": "integer",
        "minimum": settings.min_session_ttl,
        "maximum": settings.max_session_ttl,
        "description": f"Seconds; defaults to {settings.session_ttl}.",
    }
    return {
        "Constraints": obj(
            {},
            {
                "maxAmountPerTx": ref("Lamports"),
                "maxAmountPerDay": ref("Lamports"),
                "allowedRecipients": {"type": "array", "items": ref("Address"), "maxItems": 100},
            },
        ),
        "SessionCreate": obj(
            {"walletId": UUID},
            {
                "expiresIn": expires_in,
                "constraints": ref("Constraints"),
                "label": {"type": "string", "maxLength": 64},
            },
        ),
        "SessionCreated": obj(
            {
                "id": UUID,
                "token": {"type": "string", "pattern": "^wai_sess_"},
                "expiresAt": UNIX_TIME,
                "walletId": UUID,
            }
        ),
        "Session": obj(
            {
                "id": UUID,
                "walletId": UUID,
                "label": nullable({"type": "string", "maxLength": 64}),
                "status": {"enum": ["ACTIVE", "EXPIRED", "REVOKED"]},
                "renewalCount": COUNT,
                "maxRenewals": COUNT,
                "expiresAt": UNIX_TIME,
                "absoluteExpiresAt": UNIX_TIME,
                "createdAt": UNIX_TIME,
                "lastRenewedAt": nullable(UNIX_TIME),
                "constraints": nullable(ref("Constraints")),
            }
        ),
        "SessionList": obj({"items": {"type": "array", "items": ref("Session")}}),
        "SessionRevoked": obj({"id": UUID, "status": {"const": "REVOKED"}}),
        "SessionRenewed": obj(
            {
                "id": UUID,
                "token": {"type": "string", "pattern": "^wai_sess_"},
                "expiresAt": UNIX_TIME,
                "renewalCount": COUNT,
                "maxRenewals": COUNT,
                "absoluteExpiresAt": UNIX_TIME,
            }
        ),
        "McpTokenCreate": obj({"walletId": UUID}, {"expiresIn": expires_in}),
        "McpToken": obj(
            {
                "walletId": UUID,
                "walletName": {"type": "string"},
                "sessionId": UUID,
                "tokenPath": {"type": "string"},
                "expiresAt": UNIX_TIME,
                "claudeDesktopConfig": ref("ClaudeDesktopConfig"),
            }
        ),
        "ClaudeDesktopConfig": obj(
            {
                "mcpServers": {
                    "type": "object",
                    "additionalProperties": obj(
                        {
                            "command": {"type": "string"},
                            "args": {"type": "array", "items": {"type": "string"}},
                            "env": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        }
                    ),
                }
            }
        ),
    }


def _transaction_schemas() -> dict[str, Schema]:
    status = {"enum": ["PENDING", "SUBMITTED", "CONFIRMED", "FAILED"]}
    return {
        "SendRequest": obj(
            {"to": ref("Address"), "amount": ref("Lamports")},
            {"memo": {"type": "string", "maxLength": 256}},
        ),
        "SendResult": obj(
            {"id": UUID, "status": status, "signature": nullable({"type": "string"})}
        ),
        "Transaction": obj(
            {
                "id": UUID,
                "walletId": UUID,
                "type": {"enum": ["TRANSFER", "AIRDROP"]},
                "status": status,
                "to": ref("Address"),
                "amount": ref("Lamports"),
                "memo": nullable({"type": "string", "maxLength": 256}),
                "signature": nullable({"type": "string"}),
                "error": nullable({"type": "string"}),
                "createdAt": UNIX_TIME,
                "updatedAt": UNIX_TIME,
            }
        ),
        "TransactionPage": obj(
            {
                "items": {"type": "array", "items": ref("Transaction")},
                "cursor": nullable({"type": "string"}),
            }
        ),
    }


def error_responses(*codes: str) -> dict[str, Any]:
    """One response per status, its ``code`` limited to the codes this operation answers."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code].status, []).append(code)
    return {
        str(status): {
            "description": ", ".join(grouped),
            "content": {
                "application/json": {
                    "schema": {"allOf": [ref("Error"), {"properties": {"code": {"enum": grouped}}}]}
                }
            },
        }
        for status, grouped in sorted(by_status.items())
    }


def operation(
    operation_id: str,
    summary: str,
    *,
    tag: str,
    auth: str,
    ok: tuple[int, str],
    errors: tuple[str, ...] = (),
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status, schema = ok
    security, auth_errors = AUTH[auth]
    all_errors = (*HOST_ERRORS, *auth_errors, *(BODY_ERRORS if body else ()), *errors)
    result: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "security": security,
        "responses": {
            str(status): {
                "description": summary,
                "content": {"application/json": {"schema": ref(schema)}},
            },
            **error_responses(*dict.fromkeys(all_errors)),
        },
    }
    if body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref(body)}},
        }
    if parameters:
        result["parameters"] = parameters
    return result


def path_id(description: str) -> list[dict[str, Any]]:
    # Anything but a canonical UUID names no record, so it is a 404, not a 400.
    return [
        {"name": "id", "in": "path", "required": True, "schema": UUID, "description": description}
    ]


def paths() -> dict[str, Any]:
    return {
        **_public_paths(),
        **_wallet_paths(),
        **_session_paths(),
        **_agent_paths(),
    }


def _public_paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": operation(
                "getHealth", "Daemon health", tag="system", auth="public", ok=(200, "Health")
            )
        },
        "/v1/nonce": {
            "get": operation(
                "getNonce",
                "A random 32-byte nonce, valid 5 minutes",
                tag="system",
                auth="public",
                ok=(200, "Nonce"),
            )
        },
        "/openapi.json": {
            "get": operation(
                "getOpenApi",
                "This OpenAPI document",
                tag="system",
                auth="public",
                ok=(200, "OpenApiDocument"),
            )
        },
        "/v1/admin/status": {
            "get": operation(
                "getAdminStatus",
                "Daemon status with wallet and session counts",
                tag="system",
                auth="master",
                ok=(200, "AdminStatus"),
            )
        },
    }


def _wallet_paths() -> dict[str, Any]:
    return {
        "/v1/wallets": {
            "post": operation(
                "createWallet",
                "Create a wallet with a new keypair",
                tag="wallets",
                auth="master",
                ok=(201, "Wallet"),
                body="WalletCreate",
            ),
            "get": operation(
                "listWallets",
                "All wallets",
                tag="wallets",
                auth="master",
                ok=(200, "WalletList"),
            ),
        },
        "/v1/wallets/{id}": {
            "get": operation(
                "getWallet",
                "One wallet",
                tag="wallets",
                auth="master",
                ok=(200, "Wallet"),
                errors=("WALLET_NOT_FOUND",),
                parameters=path_id("Wallet id."),
            ),
            "delete": operation(
                "terminateWallet",
                "Terminate a wallet and revoke its sessions",
                tag="wallets",
                auth="master",
                ok=(200, "Wallet"),
                errors=("WALLET_NOT_FOUND",),
                parameters=path_id("Wallet id."),
            ),
        },
        "/v1/wallets/{id}/airdrop": {
            "post": operation(
                "airdrop",
                "Request an airdrop to a wallet (local and devnet only)",
                tag="wallets",
                auth="master",
                ok=(201, "Transaction"),
                body="AirdropRequest",
                errors=("WALLET_NOT_FOUND", "WALLET_TERMINATED", "RATE_LIMITED", "CHAIN_ERROR"),
                parameters=path_id("Wallet id."),
            )
        },
    }


def _session_paths() -> dict[str, Any]:
    return {
        "/v1/sessions": {
            "post": operation(
                "createSession",
                "Issue a session token for a wallet",
                tag="sessions",
                auth="master",
                ok=(201, "SessionCreated"),
                body="SessionCreate",
                errors=(
                    "INVALID_ADDRESS",
                    "WALLET_NOT_FOUND",
                    "WALLET_TERMINATED",
                    "SESSION_LIMIT_EXCEEDED",
                ),
            ),
            "get": operation(
                "listSessions",
                "Sessions of one wallet, or of all",
                tag="sessions",
                auth="master",
                ok=(200, "SessionList"),
                errors=("INVALID_REQUEST",),
                parameters=[{"name": "walletId", "in": "query", "required": False, "schema": UUID}],
            ),
        },
        "/v1/sessions/{id}": {
            "delete": operation(
                "revokeSession",
                "Revoke a session (idempotent)",
                tag="sessions",
                auth="master",
                ok=(200, "SessionRevoked"),
                errors=("SESSION_NOT_FOUND",),
                parameters=path_id("Session id."),
            )
        },
        "/v1/sessions/{id}/renew": {
            "put": operation(
                "renewSession",
                "Exchange the token for a new one with the same TTL",
                tag="sessions",
                auth="session",
                ok=(200, "SessionRenewed"),
                errors=(
                    "RENEWAL_TOO_EARLY",
                    "SESSION_NOT_FOUND",
                    "RENEWAL_CONFLICT",
                    "RENEWAL_LIMIT_EXCEEDED",
                    "SESSION_LIFETIME_EXPIRED",
                ),
                parameters=path_id("Session id; must be the token's own session."),
            )
        },
        "/v1/mcp/tokens": {
            "post": operation(
                "provisionMcpToken",
                "Issue an MCP session and write its token file",
                tag="sessions",
                auth="master",
                ok=(201, "McpToken"),
                body="McpTokenCreate",
                errors=("WALLET_NOT_FOUND", "WALLET_TERMINATED", "SESSION_LIMIT_EXCEEDED"),
            )
        },
    }


def _agent_paths() -> dict[str, Any]:
    return {
        "/v1/wallet/address": {
            "get": operation(
                "getAddress",
                "The token's wallet address",
                tag="agent",
                auth="session",
                ok=(200, "WalletAddress"),
            )
        },
        "/v1/wallet/balance": {
            "get": operation(
                "getBalance",
                "The token's wallet balance in lamports",
                tag="agent",
                auth="session",
                ok=(200, "WalletBalance"),
                errors=("RATE_LIMITED", "CHAIN_ERROR"),
            )
        },
        "/v1/transactions/send": {
            "post": operation(
                "sendTransaction",
                "Send lamports from the token's wallet",
                tag="agent",
                auth="session",
                ok=(201, "SendResult"),
                body="SendRequest",
                errors=(
                    "INVALID_ADDRESS",
                    "INSUFFICIENT_BALANCE",
                    "CONSTRAINT_VIOLATED",
                    "WALLET_TERMINATED",
                    "RATE_LIMITED",
                    "CHAIN_ERROR",
                ),
            )
        },
        "/v1/transactions": {
            "get": operation(
                "listTransactions",
                "The token's wallet transactions, newest first",
                tag="agent",
                auth="session",
                ok=(200, "TransactionPage"),
                errors=("INVALID_REQUEST",),
                parameters=[
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string"},
                        "description": "Opaque; the cursor of the previous page.",
                    },
                ],
            )
        },
        "/v1/transactions/{id}": {
            "get": operation(
                "getTransaction",
                "One transaction of the token's wallet",
                tag="agent",
                auth="session",
                ok=(200, "Transaction"),
                errors=("TRANSACTION_NOT_FOUND",),
                parameters=path_id("Transaction id; another wallet's is not found."),
            )
        },
    }


def openapi_document(settings: Settings) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "waiaas daemon",
            "version": __version__,
            "description": (
                "A self-hosted Solana wallet daemon for AI agents. Amounts are decimal "
                "strings of lamports, times unix seconds. Every error is "
                '{"code", "message", "retryable", "hint"?, "requestId"}.'
            ),
        },
        "paths": paths(),
        "components": {
            "schemas": schemas(settings),
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
