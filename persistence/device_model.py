"""The device model of 2.x stations: one row per reported variable attribute, keyed by station and
``variable_key`` (component, EVSE, connector, variable and attribute type)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import and_, or_, select

from persistence.models import device_variables
from persistence.pages import Page, decode_cursor, page_of
from persistence.reads import Reads
from persistence.sqltypes import utcnow
from persistence.writer import Upsert, WriteOp


def _upserted(
    rows: Sequence[Mapping[str, Any]], update_only: tuple[str, ...] | None = None
) -> list[WriteOp]:
    now = utcnow()
    return [
        Upsert(
            device_variables,
            [{**row, "updated_at": now} for row in rows],
            ("station_id", "variable_key"),
            update_only=update_only,
        )
    ]


def device_variables_reported(rows: Sequence[Mapping[str, Any]]) -> list[WriteOp]:
    """Variables of a station's device model, replacing what was known of each."""
    return _upserted(rows)


def device_values_changed(rows: Sequence[Mapping[str, Any]]) -> list[WriteOp]:
    """New values of known or new variables (GetVariables, SetVariables, NotifyEvent): the value
    and its source change, what a report said of the variable's mutability or characteristics stays."""
    return _upserted(rows, update_only=("value", "source", "updated_at"))


async def list_device_variables(
    db: Reads,
    station_id: str,
    *,
    component: str | None = None,
    variable: str | None = None,
    evse_id: int | None = None,
    attribute_type: str | None = None,
    limit: int,
    after: str | None,
) -> Page[dict[str, Any]]:
    """A station's device model, ordered by component, variable and key."""
    c = device_variables.c
    query = (
        select(device_variables)
        .where(c.station_id == station_id)
        .order_by(c.component, c.variable, c.variable_key)
        .limit(limit + 1)
    )
    for column, value in (
        (c.component, component),
        (c.variable, variable),
        (c.evse_id, evse_id),
        (c.attribute_type, attribute_type),
    ):
        if value is not None:
            query = query.where(column == value)
    if after:
        last_component, last_variable, last_key = decode_cursor(after, 3)
        query = query.where(
            or_(
                c.component > last_component,
                and_(c.component == last_component, c.variable > last_variable),
                and_(
                    c.component == last_component,
                    c.variable == last_variable,
                    c.variable_key > last_key,
                ),
            )
        )
    return page_of(
        await db.all(query),
        limit,
        # Plain str keys: SQLAlchemy's quoted_name keys do not serialise as JSON object keys.
        lambda row: {str(k): v for k, v in row.items()},
        lambda item: (item["component"], item["variable"], item["variable_key"]),
    )
