"""The one row cache of storage: kept after a read, never older than a committed change."""

import anyio
import pytest

from waiaas_daemon.storage import RowCache

pytestmark = pytest.mark.anyio


async def test_a_row_read_once_is_answered_from_memory():
    cache: RowCache[str] = RowCache()
    reads = []

    async def read():
        reads.append(1)
        return "row"

    assert await cache.get("k", read) == "row"
    assert await cache.get("k", read) == "row"
    assert reads == [1]


async def test_a_read_that_overlapped_a_change_is_answered_but_not_kept():
    cache: RowCache[str] = RowCache()
    started, release = anyio.Event(), anyio.Event()

    async def slow_read():
        started.set()
        await release.wait()
        return "old"

    async def fresh_read():
        return "new"

    async with anyio.create_task_group() as group:
        group.start_soon(cache.get, "k", slow_read)
        await started.wait()
        with cache.changing("k"):
            pass
        release.set()
    assert await cache.get("k", fresh_read) == "new"


async def test_invalidating_everything_forgets_every_row():
    cache: RowCache[str] = RowCache()
    for key in "ab":
        await cache.get(key, lambda key=key: _value(key))
    cache.invalidate()
    assert await cache.get("a", lambda: _value("A")) == "A"


async def test_a_full_cache_starts_over_instead_of_growing():
    cache: RowCache[int] = RowCache(size=2)
    for n in range(3):
        await cache.get(str(n), lambda n=n: _value(n))
    assert await cache.get("0", lambda: _value(99)) == 99


async def _value(value):
    return value
