"""The OAuth tables on both backends: a restart keeps grants, a request and a code are
spent once, a refresh token rotates once (two stores on one database, as two daemons)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import anyio
import pytest

from tests.daemon.test_storage_rows import WALLET, _session
from waiaas_daemon.storage import oauth as store
from waiaas_daemon.storage.oauth import ClientRow, CodeRow, RequestRow

pytestmark = pytest.mark.anyio

NOW = 120
SESSION = "0b1f9c7e-0000-4000-8000-0000000000a1"
CLIENT = ClientRow(
    id="client-1",
    kind="registered",
    name="Agent",
    redirect_uris=("https://agent.example/cb",),
    application_type="web",
    auth_method="none",
    secret_hash=None,
    metadata={"client_name": "Agent", "grant_types": ["authorization_code"]},
    created_at=NOW,
)
REQUEST = RequestRow(
    id_hash="r" * 64,
    client_id="client-1",
    redirect_uri="https://agent.example/cb",
    state="xyz",
    code_challenge="c" * 43,
    scope="wallet:read",
    resource="https://wallet.example/mcp",
    issuer="https://wallet.example",
    created_at=NOW,
    expires_at=NOW + 600,
)
CODE = CodeRow("k" * 64, SESSION, "client-1", "https://agent.example/cb", "c" * 43, NOW + 60, None)


async def _granted(db) -> None:
    await db.insert_wallet(WALLET)
    await db.insert_session(_session(SESSION), limit=5, now=NOW, replace_label=None)
    await store.put_client(db, CLIENT, forget_unused_before=0)
    await store.add_grant(
        db,
        session_id=SESSION,
        client_id="client-1",
        scope="wallet:read",
        resource="https://wallet.example/mcp",
        code=CODE,
        now=NOW,
    )


async def test_clients_grants_and_tokens_survive_a_reopen(open_store):
    async with open_store() as db:
        await _granted(db)
        await store.add_tokens(
            db, [("a" * 64, "access", "wallet:read", NOW + 900)], session_id=SESSION, now=NOW
        )
    async with open_store() as db:
        assert await store.get_client(db, "client-1") == CLIENT
        assert await store.grant_of(db, SESSION) == (
            "client-1",
            "wallet:read",
            "https://wallet.example/mcp",
        )
        token = await store.get_token(db, "a" * 64)
        assert token is not None and token.kind == "access" and token.client_id == "client-1"
        assert (await store.grants(db))[SESSION] == ("client-1", "Agent", "wallet:read")


async def test_a_request_is_taken_once_and_not_after_it_expires(open_store):
    async with open_store() as db:
        await store.put_client(db, CLIENT, forget_unused_before=0)
        await store.add_request(db, REQUEST)
        assert await store.get_request(db, REQUEST.id_hash, NOW + 600) is None
        assert await store.get_request(db, REQUEST.id_hash, NOW) == REQUEST
        assert await store.take_request(db, REQUEST.id_hash, NOW, []) == REQUEST
        assert await store.take_request(db, REQUEST.id_hash, NOW, []) is None


async def test_a_code_is_spent_by_one_of_two_daemons(open_store):
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_store())
        second = await stack.enter_async_context(open_store())
        await _granted(first)
        results: list[bool] = []

        async def spend(db) -> None:
            row, fresh = await store.spend_code(db, CODE.code_hash, NOW)
            assert row is not None and row.session_id == SESSION
            results.append(fresh)

        async with anyio.create_task_group() as tg:
            tg.start_soon(spend, first)
            tg.start_soon(spend, second)
        assert sorted(results) == [False, True]


async def test_a_refresh_token_rotates_once(open_store):
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(open_store())
        second = await stack.enter_async_context(open_store())
        await _granted(first)
        await store.add_tokens(
            first, [("r" * 64, "refresh", "wallet:read", NOW + 10**6)], session_id=SESSION, now=NOW
        )
        won: list[bool] = []

        async def rotate(db, new: str) -> None:
            won.append(
                await store.add_tokens(
                    db,
                    [(new, "refresh", "wallet:read", NOW + 10**6)],
                    session_id=SESSION,
                    now=NOW,
                    rotated="r" * 64,
                )
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(rotate, first, "x" * 64)
            tg.start_soon(rotate, second, "y" * 64)
        assert sorted(won) == [False, True]
        old = await store.get_token(first, "r" * 64)
        assert old is not None and old.used_at == NOW
