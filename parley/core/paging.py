"""Paging arithmetic shared by every paged list (queue, escalations, accounts, outbox)."""

from __future__ import annotations


def clamp_page(total: int, page: int, per_page: int) -> tuple[int, int]:
    """(`page`, pages) for `total` rows at `per_page` a page: at least one page, and a page
    below the first or past the last is the first or the last (an old link still shows rows)."""
    pages = max(1, -(-total // per_page))
    return min(max(page, 1), pages), pages
