"""Rows kept in memory after a read, for tables only this process changes.

Every sessionAuth request reads a session and its wallet; the Database makes
every change to those rows, so it can keep them. A change invalidates the
row (or all rows) before and after it runs; a read that overlapped a change
(the generation moved while it ran) is answered but not kept, so the cache
never holds a row older than a committed change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

Row = TypeVar("Row")

CACHE_SIZE = 10_000


class RowCache(Generic[Row]):
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._rows: dict[str, Row] = {}
        self._generation = 0
        self._size = size

    async def get(self, key: str, read: Callable[[], Awaitable[Row | None]]) -> Row | None:
        """The kept row, else ``read()``'s, kept unless a change overlapped the read."""
        cached = self._rows.get(key)
        if cached is not None:
            return cached
        generation = self._generation
        row = await read()
        if row is not None and generation == self._generation:
            if len(self._rows) >= self._size:
                self._rows.clear()
            self._rows[key] = row
        return row

    def invalidate(self, key: str | None = None) -> None:
        """Forget ``key``'s row (every row with None) and any read under way."""
        self._generation += 1
        if key is None:
            self._rows.clear()
        else:
            self._rows.pop(key, None)

    @contextmanager
    def changing(self, key: str | None = None) -> Iterator[None]:
        """Around a write: invalidated before it starts and after it ends, however."""
        self.invalidate(key)
        try:
            yield
        finally:
            self.invalidate(key)
