"""Slugs for MCP server names, with collisions between wallets resolved stably."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable

_NON_SLUG = re.compile(r"[^a-z0-9]+")


def to_slug(name: str) -> str:
    """Lowercase ASCII letters and digits joined by single dashes; never empty."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = _NON_SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug or "wallet"


def unique_slugs(wallets: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map each wallet id to a slug of its name, distinct across the wallets given.

    Wallets whose names share a slug all get a suffix from their own id, so the
    result depends only on the set of wallets, never on their order.
    """
    by_slug: dict[str, list[str]] = defaultdict(list)
    for wallet_id, name in wallets:
        by_slug[to_slug(name)].append(wallet_id)
    result: dict[str, str] = {}
    for slug, ids in by_slug.items():
        if len(ids) == 1:
            result[ids[0]] = slug
            continue
        result.update(_suffixed(slug, sorted(set(ids))))
    return _resolve_remaining(result)


def _suffixed(slug: str, ids: list[str]) -> dict[str, str]:
    compact = [i.replace("-", "").lower() for i in ids]
    width = 8
    while len({c[:width] for c in compact}) < len(compact) and width < 32:
        width += 4
    return {wallet_id: f"{slug}-{c[:width]}" for wallet_id, c in zip(ids, compact, strict=True)}


def _resolve_remaining(result: dict[str, str]) -> dict[str, str]:
    # A suffixed slug could equal another wallet's plain slug ("a-1234abcd");
    # the suffixed one then takes the full id, which cannot be anyone's name slug
    # and the id's own slug at the same time.
    seen: dict[str, str] = {}
    for wallet_id in sorted(result):
        slug = result[wallet_id]
        if slug in seen:
            result[wallet_id] = f"{to_slug(slug)}-{wallet_id.replace('-', '').lower()}"
        seen[result[wallet_id]] = wallet_id
    return result
