"""Pagination cursors, with plain strings: what ``encode_cursor`` makes decodes, anything else is a
``BadCursor``."""

from __future__ import annotations

import pytest

from persistence.pages import BadCursor, decode_cursor, encode_cursor, page_of


@pytest.mark.parametrize(
    "parts",
    [("CP-1",), ("2024-05-01T10:00:00+00:00", "42"), ("EVSE", "Power", "ctl/1/Actual")],
)
def test_cursor_round_trip(parts: tuple[str, ...]) -> None:
    cursor = encode_cursor(*parts)
    assert "=" not in cursor
    assert decode_cursor(cursor, len(parts)) == list(parts)


@pytest.mark.parametrize(
    ("cursor", "count"),
    [
        ("not base64!", 1),
        (encode_cursor("a", "b"), 1),
        (encode_cursor("a"), 2),
        (encode_cursor("a", ""), 2),
        ("_w", 1),  # one byte 0xff: not UTF-8
    ],
)
def test_foreign_cursor_is_refused(cursor: str, count: int) -> None:
    with pytest.raises(BadCursor, match="is not one this API handed out"):
        decode_cursor(cursor, count)


def test_page_of_reads_one_extra_row_to_know_of_a_next_page() -> None:
    def key(item: int) -> tuple[str]:
        return (str(item),)

    full = page_of([1, 2, 3], 2, lambda row: row * 10, key)
    assert full.items == [10, 20]
    assert full.next is not None
    assert decode_cursor(full.next, 1) == ["20"]
    last = page_of([1, 2], 2, lambda row: row * 10, key)
    assert last.items == [10, 20]
    assert last.next is None
    assert page_of([], 2, lambda row: row, key).next is None
