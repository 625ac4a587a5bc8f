"""Display messages a 2.x station holds (OCPP 2.0.1 O01-O06): one row per message id, kept once the
station accepted it (SetDisplayMessage) or reported it (NotifyDisplayMessages), removed once it
cleared it. Reports are kept part by part as ``persistence.monitoring`` describes.

A station removes a message of its own accord once its ``endDateTime`` has passed, or once the
transaction it was set for has ended (2.0.1 MessageInfoType endDateTime, transactionId: "SHALL be
removed"). Such a message is no longer listed, and the rows of those that ended go whenever a
message of the station is set, so that a message per transaction does not pile up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Integer,
    String,
    Table,
    Text,
    delete,
    exists,
    func,
    literal,
    select,
)

from persistence.connections import WriteConnection
from persistence.models import metadata, transactions
from persistence.monitoring import DISPLAY_MESSAGES, ReportTarget, rows_removed
from persistence.pages import Page, id_of_cursor, page_of
from persistence.reads import Reads
from persistence.records import v2_transaction_key
from persistence.sqltypes import UtcDateTime, utcnow
from persistence.writer import Custom, Upsert, WriteOp

station_display_messages = Table(
    "station_display_messages",
    metadata,
    Column("station_id", String(64), primary_key=True),
    Column("message_id", Integer(), primary_key=True, autoincrement=False),
    # MessagePriorityEnumType: AlwaysFront, InFront, NormalCycle.
    Column("priority", String(16), nullable=False),
    # MessageStateEnumType: shown only in this state of the station (None: always).
    Column("state", String(16), nullable=True),
    Column("start_time", UtcDateTime(), nullable=True),
    Column("end_time", UtcDateTime(), nullable=True),
    # The station's transactionId (2.x): shown during that transaction only.
    Column("transaction_id", String(36), nullable=True),
    # MessageContentType: format (ASCII, HTML, URI, UTF8; 2.1 QRCODE), language, content.
    Column("format", String(16), nullable=False),
    Column("language", String(8), nullable=True),
    Column("content", Text(), nullable=False),
    # 2.1 messageExtra: more MessageContentType, as sent.
    Column("message_extra", JSON(), nullable=True),
    # The display it is shown on: a ComponentType as sent (None: any).
    Column("display", JSON(), nullable=True),
    # "operator": accepted through SetDisplayMessage; "report": first learnt from a report.
    Column("source", String(16), nullable=False),
    Column("request_id", Integer(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
)

DISPLAY = ReportTarget(DISPLAY_MESSAGES, station_display_messages, "message_id")
"""What NotifyDisplayMessages reports tell."""


def _ended(station_id: str, now: datetime) -> ColumnElement[bool]:
    """The station's messages it has removed by now: past their end, or set for a transaction
    of the station that has ended."""
    c, t = station_display_messages.c, transactions.c
    transaction_ended = exists().where(
        t.id == literal(v2_transaction_key(station_id, "")) + c.transaction_id,
        t.stop_time.is_not(None),
    )
    # Never NULL: the listing negates it.
    past_end = c.end_time.is_not(None) & (c.end_time <= now)
    return past_end | (c.transaction_id.is_not(None) & transaction_ended)


def display_message_set(station_id: str, row: Mapping[str, Any]) -> WriteOp:
    """A message the station accepted (SetDisplayMessage): it replaces the message of its id;
    those the station has removed on its own go."""
    now = utcnow()
    c = station_display_messages.c

    async def run(conn: WriteConnection) -> None:
        await conn.execute(
            delete(station_display_messages).where(
                c.station_id == station_id,
                c.message_id != row["message_id"],
                _ended(station_id, now),
            )
        )
        await Upsert(
            station_display_messages,
            [{**row, "station_id": station_id, "source": "operator", "updated_at": now}],
            ("station_id", "message_id"),
        ).apply(conn)

    return Custom(run)


def display_messages_removed(station_id: str, ids: list[int]) -> WriteOp:
    """Messages the station no longer shows (ClearDisplayMessage Accepted or Unknown)."""
    return rows_removed(DISPLAY, station_id, ids)


async def list_display_messages(
    db: Reads, station_id: str, *, limit: int, after: str | None
) -> Page[dict[str, Any]]:
    """A station's display messages by id (not those it has removed on its own by now)."""
    c = station_display_messages.c
    query = (
        select(station_display_messages)
        .where(c.station_id == station_id, ~_ended(station_id, utcnow()))
        .order_by(c.message_id)
        .limit(limit + 1)
    )
    if after:
        query = query.where(c.message_id > id_of_cursor(after))
    return page_of(
        await db.all(query),
        limit,
        lambda row: {str(k): v for k, v in row.items()},
        lambda item: (str(item["message_id"]),),
    )


async def get_display_message(db: Reads, station_id: str, message_id: int) -> dict[str, Any] | None:
    c = station_display_messages.c
    row = await db.first(
        select(station_display_messages).where(
            c.station_id == station_id, c.message_id == message_id
        )
    )
    return {str(k): v for k, v in row.items()} if row is not None else None


async def next_message_id(db: Reads, station_id: str) -> int:
    """An id no kept message of the station has (one more than the highest)."""
    c = station_display_messages.c
    row = await db.first(
        select(func.max(c.message_id).label("top")).where(c.station_id == station_id)
    )
    top = row["top"] if row is not None else None
    return int(top) + 1 if top is not None else 1
