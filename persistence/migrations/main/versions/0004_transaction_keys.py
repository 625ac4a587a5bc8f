"""Collision-free 2.x transaction ids: ``<station id>:<transactionId>`` becomes
``<station id>,<transactionId>`` in every table that holds them.

With ":" both in station ids (OCPP 2.0.1 identifierString allows it) and in the separator, station
``COL`` with transaction ``1:X`` and station ``COL:1`` with transaction ``X`` shared a key. No station
id voltmesh ever accepted holds a comma. Only rows whose id starts with their own station id and a
colon are rewritten (1.6 ids are integers the CSMS issued), so a second run changes nothing. The
meter values of those transactions get their ``sample_key`` again, computed as the message path
computes it, so that a MeterValues resent after the upgrade still lands once.

Revision ID: main_0004
Revises: main_0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "main_0004"
down_revision: str | None = "main_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_V16 = "ocpp1.6"
_BATCH = 1000

# The station part of a new key, as persistence.records.v2_transaction_key escapes it (frozen here:
# a migration must not change when the code does).
_ESCAPED_STATION = "replace(replace(station_id, '%', '%25'), ',', '%2C')"


def _old_style(column: str) -> str:
    """SQL: ``column`` holds ``<station_id>:<rest>`` (SQLite and PostgreSQL alike)."""
    return f"substr({column}, 1, length(station_id) + 1) = station_id || ':'"


def _new_key(column: str) -> str:
    """SQL: the new key of an old-style ``column``."""
    return f"{_ESCAPED_STATION} || ',' || substr({column}, length(station_id) + 2)"


def upgrade() -> None:
    _rekey_sample_keys(",")
    # 1.6 ids are integers: an id that starts with its row's station id and ":" is a 2.x key.
    for table in ("meter_values", "transaction_events"):
        op.execute(
            f"UPDATE {table} SET transaction_id = {_new_key('transaction_id')} "
            f"WHERE {_old_style('transaction_id')}"
        )
    op.execute(
        f"UPDATE transactions SET id = {_new_key('id')} "
        f"WHERE protocol <> '{_V16}' AND {_old_style('id')}"
    )


def downgrade() -> None:
    # Back to ":" (keys that collide under it cannot have been stored before this revision).
    new_style = (
        f"substr(transaction_id, 1, length({_ESCAPED_STATION}) + 1) = {_ESCAPED_STATION} || ','"
    )
    tx_new_style = f"substr(id, 1, length({_ESCAPED_STATION}) + 1) = {_ESCAPED_STATION} || ','"
    station_len = f"length({_ESCAPED_STATION})"
    op.execute(
        f"UPDATE transactions SET id = station_id || ':' || substr(id, {station_len} + 2) "
        f"WHERE protocol <> '{_V16}' AND {tx_new_style}"
    )
    for table in ("meter_values", "transaction_events"):
        op.execute(
            f"UPDATE {table} SET transaction_id = station_id || ':' || "
            f"substr(transaction_id, {station_len} + 2) WHERE {new_style}"
        )
    _rekey_sample_keys(":")


def _rekey_sample_keys(separator: str) -> None:
    """Recompute the sample keys of 2.x meter values for their transaction's key under
    ``separator`` (run before the rewrite on upgrade, after it on downgrade: either way while the
    rows still hold the old-style id, found by ``_old_style`` for ":")."""
    bind = op.get_bind()
    meter_values = sa.table(
        "meter_values",
        sa.column("id", sa.BigInteger()),
        sa.column("station_id", sa.String()),
        sa.column("transaction_id", sa.String()),
        sa.column("evse_id", sa.Integer()),
        sa.column("connector_id", sa.Integer()),
        sa.column("timestamp", sa.DateTime(timezone=True)),
        sa.column("measurand", sa.String()),
        sa.column("phase", sa.String()),
        sa.column("location", sa.String()),
        sa.column("context", sa.String()),
        sa.column("value", sa.Float()),
        sa.column("raw_value", sa.Text()),
        sa.column("sample_key", sa.String()),
    )
    c = meter_values.c
    last_id = -1
    while True:
        rows = bind.execute(
            sa.select(meter_values)
            .where(sa.text(_old_style("transaction_id")), c.id > last_id)
            .order_by(c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        updates = []
        for row in rows:
            rest = row.transaction_id[len(row.station_id) + 1 :]
            if separator == ",":
                escaped = row.station_id.replace("%", "%25").replace(",", "%2C")
                transaction_id = escaped + "," + rest
            else:
                transaction_id = row.station_id + ":" + rest
            updates.append({"row_id": row.id, "key": _sample_key(row, transaction_id)})
        bind.execute(
            sa.update(meter_values).where(c.id == sa.bindparam("row_id")),
            [{"row_id": u["row_id"], "sample_key": u["key"]} for u in updates],
        )


def _sample_key(row: sa.Row[tuple[object, ...]], transaction_id: str) -> str:
    """csms.payloads.metering's content hash of a sample (frozen copy)."""
    timestamp = row.timestamp
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)
    assert isinstance(timestamp, datetime)
    timestamp = (
        timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp.astimezone(UTC)
    )
    identity = "\x1f".join(
        (
            row.station_id,
            transaction_id,
            str(row.evse_id),
            str(row.connector_id),
            timestamp.isoformat(),
            row.measurand,
            row.phase or "",
            row.location or "",
            row.context or "",
            repr(row.value) if row.value is not None else (row.raw_value or ""),
        )
    )
    return hashlib.blake2b(identity.encode(), digest_size=16).hexdigest()
