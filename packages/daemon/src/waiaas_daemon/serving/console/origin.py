"""Did a console POST come from the console itself? A pure decision on four headers.

Under ``Referrer-Policy: no-referrer`` Chromium sends ``Origin: null`` on the
console's own form posts, so ``Sec-Fetch-Site: same-origin`` is what proves
them. ``same-site`` is refused too: another port of localhost is the same
site but a different origin.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_console(
    *, own_origin: str, origin: str | None, referer: str | None, fetch_site: str | None
) -> bool:
    own = own_origin.lower()
    if fetch_site is not None and fetch_site.lower() != "same-origin":
        return False
    if referer and origin_of(referer) != own:
        return False
    if origin is not None and origin != "null":
        return origin.lower() == own
    return fetch_site is not None
