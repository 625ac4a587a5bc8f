"""Keyset pagination of the REST listings: a page of rows and an opaque cursor to the next.

A cursor is the sort key of a page's last row, its parts joined and base64url-encoded; the next page
starts strictly after it, so rows inserted meanwhile neither repeat nor shift a page.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Column, RowMapping, select

from persistence.reads import Reads

T = TypeVar("T")
Row = TypeVar("Row")

_SEPARATOR = "\x1f"


class BadCursor(ValueError):
    """A pagination cursor that this API did not hand out."""

    def __init__(self, cursor: str) -> None:
        super().__init__(f"cursor {cursor!r} is not one this API handed out")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the cursor of the next (None at the end)."""

    items: list[T]
    next: str | None


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(_SEPARATOR.join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, count: int) -> list[str]:
    """The ``count`` parts of a cursor; raises ``BadCursor`` for anything ``encode_cursor`` did not make."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise BadCursor(cursor) from None
    parts = decoded.split(_SEPARATOR)
    if len(parts) != count or not all(parts):
        raise BadCursor(cursor)
    return parts


def page_of(
    rows: Sequence[Row],
    limit: int,
    item: Callable[[Row], T],
    sort_key: Callable[[T], Sequence[str]],
) -> Page[T]:
    """The page of ``rows`` read with ``limit + 1``: the extra row only tells that a next page exists."""
    items = [item(row) for row in rows[:limit]]
    more = len(rows) > limit
    return Page(items, encode_cursor(*sort_key(items[-1])) if more else None)


async def page_by_key(
    db: Reads,
    key: Column[Any],
    *,
    limit: int,
    after: str | None,
    item: Callable[[RowMapping], T],
    key_of: Callable[[T], str],
) -> Page[T]:
    """A page of ``key``'s table in ``key`` order, starting after the key that ``after`` encodes."""
    query = select(key.table).order_by(key).limit(limit + 1)
    if after:
        (last,) = decode_cursor(after, 1)
        query = query.where(key > last)
    return page_of(await db.all(query), limit, item, lambda it: (key_of(it),))


def id_of_cursor(cursor: str) -> int:
    """The row id a one-part cursor holds; ``BadCursor`` for anything but 1-18 ASCII digits (a
    crafted one must not reach the database as an out-of-range integer)."""
    (last,) = decode_cursor(cursor, 1)
    if not (last.isascii() and last.isdigit() and len(last) <= 18):
        raise BadCursor(cursor)
    return int(last)
