"""Id tokens: the authorization list that the operator edits and the chargers' Authorize reads."""

from __future__ import annotations

from sqlalchemy import RowMapping, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.keyed_rows import create_or_update, delete_by_key
from persistence.models import id_tokens
from persistence.pages import Page, page_by_key
from persistence.reads import Reads
from persistence.records import IdTokenRecord, IdTokenStatus
from persistence.sqltypes import utcnow


def _id_token(row: RowMapping) -> IdTokenRecord:
    return IdTokenRecord(
        id_token=row["id_token"],
        type=row["type"],
        status=IdTokenStatus(row["status"]),
        expiry_date=row["expiry_date"],
        parent_id_token=row["parent_id_token"],
        evse_ids=tuple(row["evse_ids"]) if row["evse_ids"] is not None else None,
    )


# Built once: an Authorize reads a token on the message path (see ``stations._STATION_BY_ID``).
_ID_TOKEN_BY_VALUE = select(id_tokens).where(id_tokens.c.id_token == bindparam("id_token"))


async def get_id_token(db: Reads, id_token: str) -> IdTokenRecord | None:
    row = await db.first(_ID_TOKEN_BY_VALUE, {"id_token": id_token})
    return _id_token(row) if row else None


async def list_id_tokens(db: Reads, *, limit: int, after: str | None) -> Page[IdTokenRecord]:
    return await page_by_key(
        db,
        id_tokens.c.id_token,
        limit=limit,
        after=after,
        item=_id_token,
        key_of=lambda token: token.id_token,
    )


async def put_id_token(engine: AsyncEngine, record: IdTokenRecord) -> bool:
    """Create or replace an id token; returns whether it was created."""
    now = utcnow()
    values = {
        "type": record.type,
        "status": record.status.value,
        "expiry_date": record.expiry_date,
        "parent_id_token": record.parent_id_token,
        "evse_ids": list(record.evse_ids) if record.evse_ids is not None else None,
        "updated_at": now,
    }
    return await create_or_update(engine, id_tokens.c.id_token, record.id_token, values, now)


async def delete_id_token(engine: AsyncEngine, id_token: str) -> bool:
    return await delete_by_key(engine, id_tokens.c.id_token, id_token)
